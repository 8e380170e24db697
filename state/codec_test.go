package state

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/sendgate/sendgate/quota"
)

func TestHistoryCodec(t *testing.T) {
	many := make([]quota.Send, 40) // more agents than dictLinearMax
	for i := range many {
		many[i] = quota.Send{At: int64(1000 + i), Agent: fmt.Sprintf("agent-%d", i%20), Attempt: fmt.Sprintf("att-%d", i)}
	}
	tests := []struct {
		name     string
		sends    []quota.Send
		expireAt int64
	}{
		{"one", []quota.Send{{At: 1_795_000_000_000, Agent: "ana@acme", Attempt: "att-1"}}, 1_795_086_400_000},
		{"three, shared agent", []quota.Send{
			{At: 100, Agent: "ana", Attempt: "a1"}, {At: 100, Agent: "bob", Attempt: "a2"}, {At: 250, Agent: "ana", Attempt: "a3"},
		}, 86_400_250},
		{"nul and long ids", []quota.Send{
			{At: 0, Agent: "\x00", Attempt: strings.Repeat("\x00", 256)},
			{At: 1, Agent: strings.Repeat("\xff", 256), Attempt: ""},
		}, 1},
		{"not ascending, negative, extremes", []quota.Send{
			{At: 50, Agent: "a", Attempt: "x"}, {At: -7, Agent: "a", Attempt: "y"}, {At: math.MaxInt64, Agent: "", Attempt: "z"}, {At: math.MinInt64 + 1, Agent: "", Attempt: "w"},
		}, 0},
		{"large dictionary", many, 5000},
		{"categories", []quota.Send{
			{At: 100, Agent: "ana", Attempt: "a1", Category: "marketing"}, {At: 101, Agent: "ana", Attempt: "a2"},
			{At: 102, Agent: "bob", Attempt: "a3", Category: "utility"}, {At: 103, Agent: "ana", Attempt: "a4", Category: "marketing"},
		}, 86_400_103},
	}
	var enc historyEncoder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			val := enc.encode(nil, tt.sends, tt.expireAt)
			exp, _, err := decodeHeader(val)
			if err != nil || exp != tt.expireAt {
				t.Fatalf("header: %d, %v; want %d", exp, err, tt.expireAt)
			}
			dst := []quota.Send{{At: 1, Agent: "stale"}}
			got, err := decodeHistory(dst, val)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got[1:], tt.sends) {
				t.Fatalf("got %v\nwant %v", got[1:], tt.sends)
			}
			// Every truncation is an error, never a panic.
			for i := range len(val) {
				if _, err := decodeHistory(nil, val[:i]); err == nil {
					t.Fatalf("decode of %d/%d bytes: no error", i, len(val))
				}
			}
		})
	}
	// The encoder's scratch carries nothing over: small after large.
	val := enc.encode(nil, tests[1].sends, 9)
	got, err := decodeHistory(nil, val)
	if err != nil || !reflect.DeepEqual(got, tests[1].sends) {
		t.Fatalf("after large dictionary: %v, %v", got, err)
	}
}

func TestHistoryEncodingIsCompact(t *testing.T) {
	sends := []quota.Send{
		{At: 1_795_000_000_000, Agent: "ana@acme", Attempt: "att-0001"},
		{At: 1_795_000_600_000, Agent: "ana@acme", Attempt: "att-0002"},
		{At: 1_795_003_600_000, Agent: "ana@acme", Attempt: "att-0003"},
	}
	var enc historyEncoder
	val := enc.encode(nil, sends, 1_795_003_600_000+86_400_000)
	// version 1 + expiry 6 + counts 2 + agent 9 + 3×(Δt ≤5 + idx 1 + id 9)
	if len(val) > 60 {
		t.Errorf("history of 3 sends takes %d bytes", len(val))
	}
	if n := testing.AllocsPerRun(100, func() { val = enc.encode(val[:0], sends, 1) }); n != 0 {
		t.Errorf("encode allocates %v times", n)
	}
}

func TestValueCodecs(t *testing.T) {
	saoPaulo, err := loadZone("America/Sao_Paulo")
	if err != nil {
		t.Fatal(err)
	}
	for _, pos := range []Position{{}, {Offset: 1, HWM: 2}, {Offset: math.MaxInt64, HWM: math.MinInt64}, {Offset: -1, HWM: 1_795_000_000_000},
		{Offset: 120, HWM: 7, ChangelogEnd: 57, BatchStart: 100}, {Offset: 120, HWM: 7, ChangelogEnd: 57, BatchStart: 100, BatchStartHWM: 5}} {
		got, err := decodePosition(appendPositionValue(nil, pos))
		if err != nil || got != pos {
			t.Errorf("position %v: got %v, %v", pos, got, err)
		}
	}
	// A position written before BatchStartHWM was kept (four fields) still
	// decodes, with it unknown.
	old := binary.AppendVarint(binary.AppendVarint(binary.AppendVarint(binary.AppendVarint([]byte{valueVersion}, 120), 7), 57), 100)
	if got, err := decodePosition(old); err != nil || got != (Position{Offset: 120, HWM: 7, ChangelogEnd: 57, BatchStart: 100, BatchStartHWM: -1}) {
		t.Errorf("position of four fields: %+v, %v", got, err)
	}
	for _, bs := range []BotSettings{
		{},
		{Settings: quota.Disabled(), Floor: 42},
		{Settings: quota.Settings{Version: 7, Enabled: true, Max: 1000, WindowMs: 2_592_000_000, Scope: quota.ScopeAgentContact}, Floor: 7},
		{Settings: quota.Settings{Version: 8, Enabled: true, Max: 3, WindowMs: 86_400_000, Exempt: []string{"authentication"}}, Floor: 8},
		{Settings: quota.Settings{Version: 9, Enabled: true, Max: 3, WindowMs: 86_400_000, Rules: []quota.Rule{
			{Name: "weekly", Max: 5, WindowMs: 604_800_000},
			{Name: "marketing-daily", Max: 1, Calendar: quota.Day, Zone: saoPaulo, Categories: []string{"marketing"}},
			{Name: "agent-trial", Max: 2, WindowMs: 86_400_000, Scope: quota.ScopeAgentContact, Shadow: true},
			{Name: "monthly", Max: 9, Calendar: quota.Month, Categories: []string{"marketing", "utility"}},
		}}, Floor: 9},
	} {
		got, err := decodeSettings(appendSettingsValue(nil, bs))
		if err != nil || !reflect.DeepEqual(got, bs) {
			t.Errorf("settings %v: got %v, %v", bs, got, err)
		}
	}
	for _, next := range []int64{0, 1, math.MaxInt64} {
		got, err := decodeOffset(appendOffsetValue(nil, next))
		if err != nil || got != next {
			t.Errorf("offset %d: got %d, %v", next, got, err)
		}
	}
	bad := appendPositionValue(nil, Position{Offset: 1})
	bad[0] = 9
	if _, err := decodePosition(bad); err == nil || !strings.Contains(err.Error(), "unknown value version 9") {
		t.Errorf("version 9: %v", err)
	}
	if _, err := decodeOffset(append(appendOffsetValue(nil, 1), 0)); err == nil {
		t.Error("trailing byte: no error")
	}
}
