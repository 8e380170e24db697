package main

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/internal/httpjson"
	"github.com/sendgate/sendgate/quota"
)

// quota proxies the processor's quota query for one of the bot's contacts,
// for an agent and a template category when given. An answer that names a
// binding rule gets its texts added (rule_label, rule_period), as verdicts
// do.
func (s *Server) quota(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	contact, agent, category := q.Get("contact_id"), q.Get("agent_id"), q.Get("category")
	if contact == "" || len(contact) > events.MaxIDBytes || len(agent) > events.MaxIDBytes {
		httpjson.Error(w, http.StatusBadRequest, "contact_id: required, at most 256 bytes (agent_id too)")
		return
	}
	if q.Has("category") && (category == "" || len(category) > quota.MaxCategoryLen) {
		httpjson.Error(w, http.StatusBadRequest, "category: 1 to 64 bytes when given (leave it out for none)")
		return
	}
	path := "/v1/bots/" + url.PathEscape(s.cfg.Bot) + "/contacts/" + url.PathEscape(contact) + "/quota"
	params := url.Values{}
	if agent != "" {
		params.Set("agent_id", agent)
	}
	if category != "" {
		params.Set("category", category)
	}
	if len(params) > 0 {
		path += "?" + params.Encode()
	}
	s.proxyWith(w, r, path, describeQuota)
}

// describeQuota adds rule_label and rule_period to a quota answer that names
// its binding rule; it returns any other answer as it is.
func describeQuota(b []byte) []byte {
	var a struct {
		Rule          string `json:"rule"`
		Limit         *int   `json:"limit"`
		WindowSeconds int64  `json:"window_seconds"`
		Calendar      string `json:"calendar"`
		TimeZone      string `json:"time_zone"`
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &a) != nil || a.Rule == "" || a.Limit == nil || json.Unmarshal(b, &m) != nil {
		return b
	}
	m["rule_label"] = mustJSON(ruleLabel(a.Rule, *a.Limit, a.WindowSeconds, a.Calendar, a.TimeZone))
	m["rule_period"] = mustJSON(rulePeriod(a.WindowSeconds, a.Calendar, a.TimeZone))
	return mustJSON(m)
}
