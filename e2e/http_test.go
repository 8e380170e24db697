package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sendgate/sendgate/quota"
)

// The query API per the contract, behind a bearer token: JSON errors with a
// 4xx status, agent_id required under scope agent_contact, unknown bots
// disabled at version 0.
func TestQueryAPI(t *testing.T) {
	k := newCluster(t, 2)
	k.publishSettings("agents-bot", quota.Settings{Version: 3, Enabled: true, Max: 1, WindowMs: 3_600_000, Scope: quota.ScopeAgentContact})
	p := startProc(t, t.TempDir(), "--brokers", k.addr, "--http-token", "t0ken")

	get := func(path, token string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+p.http+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(path, "/metrics") {
			t.Fatalf("%s: content type %q: %s", path, ct, b)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: not JSON: %s", path, b)
		}
		return resp.StatusCode, m
	}
	if code, m := get("/v1/bots/agents-bot/settings", ""); code != 401 || m["error"] == nil {
		t.Fatalf("without token: %d %v", code, m)
	}
	if code, m := get("/v1/bots/agents-bot/settings", "wrong"); code != 401 || m["error"] == nil {
		t.Fatalf("wrong token: %d %v", code, m)
	}
	if code, _ := get("/readyz", ""); code != 200 {
		t.Fatalf("probes must stay open: %d", code)
	}
	code, m := get("/v1/bots/agents-bot/settings", "t0ken")
	am, _ := m["active_messages"].(map[string]any)
	if code != 200 || m["version"] != 3.0 || am["scope"] != "agent_contact" || am["window_seconds"] != 3600.0 {
		t.Fatalf("settings: %d %v", code, m)
	}
	if code, m := get("/v1/bots/agents-bot/contacts/c1/quota", "t0ken"); code != 400 || !strings.Contains(m["error"].(string), "agent_id") {
		t.Fatalf("agent_contact without agent_id: %d %v", code, m)
	}
	code, m = get("/v1/bots/agents-bot/contacts/c1/quota?agent_id=ana", "t0ken")
	if code != 200 || m["used"] != 0.0 || m["remaining"] != 1.0 || m["agent_id"] != "ana" || m["retry_at"] != nil {
		t.Fatalf("quota: %d %v", code, m)
	}
	code, m = get("/v1/bots/unknown/settings", "t0ken")
	if am, _ := m["active_messages"].(map[string]any); code != 200 || m["version"] != 0.0 || am["limit_enabled"] != false {
		t.Fatalf("unknown bot: %d %v", code, m)
	}
	if code, m := get("/v1/bots/"+strings.Repeat("x", 257)+"/settings", "t0ken"); code != 400 || m["error"] == nil {
		t.Fatalf("oversized id: %d %v", code, m)
	}
	if code, m := get("/v2/nothing", "t0ken"); code != 404 || m["error"] == nil {
		t.Fatalf("unknown route: %d %v", code, m)
	}
}
