package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sendgate/sendgate/contract"
)

// nextSendTime is the page's nextSendTime (static/format.js) for a browser
// in loc: TestPageFormat checks the page's against fixed texts, and
// TestBrowserRules uses this one for the texts it expects.
func nextSendTime(retryAtMs int64, now time.Time, loc *time.Location) string {
	d := time.UnixMilli((retryAtMs + 59_999) / 60_000 * 60_000).In(loc)
	n := now.In(loc)
	day := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }
	switch days := int(day(d).Sub(day(n)) / (24 * time.Hour)); {
	case days == 0:
		return d.Format("at 15:04")
	case days > 0 && days < 7:
		return d.Format("Mon 15:04")
	}
	return d.Format("Mon 2 Jan 15:04")
}

// The page's formatting functions (static/format.js), called in Chromium
// with the browser's clock in New York (daylight saving time included).
func TestPageFormat(t *testing.T) {
	srv := httptest.NewServer(newTestServer(t).Handler())
	t.Cleanup(srv.Close)
	p := newPage(t) // closed first: its event stream ends before the server does
	p.run("open the page", inZone("America/New_York"), chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(`body`))
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) int64 {
		tm, err := time.ParseInLocation("2006-01-02 15:04:05.000", s, ny)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixMilli()
	}
	cases := []struct {
		now, retry, want string
	}{
		{"2026-11-26 10:00:00.000", "2026-11-26 14:30:45.000", "at 14:31"},
		{"2026-11-26 10:00:00.000", "2026-11-26 14:30:00.000", "at 14:30"},
		{"2026-11-26 10:00:00.000", "2026-11-26 14:30:00.001", "at 14:31"},
		{"2026-11-26 10:00:00.000", "2026-11-26 23:59:30.000", "Fri 00:00"},
		{"2026-11-26 10:00:00.000", "2026-11-27 00:00:00.000", "Fri 00:00"},
		{"2026-11-26 10:00:00.000", "2026-11-30 09:00:00.000", "Mon 09:00"},
		{"2026-11-26 10:00:00.000", "2026-12-02 23:59:00.000", "Wed 23:59"},
		{"2026-11-26 10:00:00.000", "2026-12-03 00:00:00.000", "Thu 3 Dec 00:00"},
		{"2026-11-26 10:00:00.000", "2026-12-26 00:00:00.000", "Sat 26 Dec 00:00"},
		{"2026-11-26 10:00:00.000", "2026-11-25 09:00:00.000", "Wed 25 Nov 09:00"}, // in the past: never while limited
		// The night clocks go forward (2026-03-08, 02:00 EST is 03:00 EDT)
		// and back (2026-11-01, 02:00 EDT is 01:00 EST).
		{"2026-03-07 23:30:00.000", "2026-03-08 03:00:00.000", "Sun 03:00"},
		{"2026-03-01 12:00:00.000", "2026-03-08 00:00:00.000", "Sun 8 Mar 00:00"},
		{"2026-03-02 00:00:00.000", "2026-03-08 23:00:00.000", "Sun 23:00"},
		{"2026-10-31 23:00:00.000", "2026-11-01 23:59:00.000", "Sun 23:59"},
	}
	var js strings.Builder
	js.WriteString(`import('/static/format.js').then((f) => JSON.stringify([`)
	for _, c := range cases {
		fmt.Fprintf(&js, "f.nextSendTime(%d, %d),", at(c.retry), at(c.now))
	}
	waits := []time.Duration{24 * time.Hour, 24*time.Hour - time.Millisecond, time.Hour - time.Millisecond, 61 * time.Second, time.Millisecond, 0, -time.Second}
	for _, d := range waits {
		fmt.Fprintf(&js, "f.formatWait(%d),", d.Milliseconds())
	}
	js.WriteString(`]))`)
	out, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](js.String(), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		if got[i] != c.want {
			t.Errorf("nextSendTime(%s) at %s = %q, want %q", c.retry, c.now, got[i], c.want)
		}
		now, _ := time.ParseInLocation("2006-01-02 15:04:05.000", c.now, ny)
		if mirror := nextSendTime(at(c.retry), now, ny); mirror != c.want {
			t.Errorf("the test's nextSendTime(%s) at %s = %q, want %q", c.retry, c.now, mirror, c.want)
		}
	}
	for i, d := range waits {
		if g, want := got[len(cases)+i], formatWait(d); g != want {
			t.Errorf("formatWait(%v) = %q, the test's formatWait %q", d, g, want)
		}
	}
}

// lastSettings reads the settings topic on its own: the value of the last
// settings event the console published.
func lastSettings(t *testing.T, broker string) json.RawMessage {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics(contract.SettingsTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var last []byte
	for ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { last = r.Value })
		if last != nil {
			// The topic is read to its end: one more poll finds nothing newer.
			pctx, pcancel := context.WithTimeout(ctx, 300*time.Millisecond)
			cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) { last = r.Value })
			pcancel()
			return last
		}
	}
	t.Fatalf("no settings event on %s", contract.SettingsTopic)
	return nil
}

// TestBrowserRules drives the console in headless Chromium against the real
// processor, for a bot with two rules besides the default one: "weekly" (5
// per 7 days) and "marketing-daily" (1 marketing template per calendar day
// in São Paulo), authentication templates exempt. The admin enters them in
// the form (a mistyped time zone is refused on its rule); the published
// event carries them as the contract writes them. The agent sends two
// marketing templates to one contact: the second is blocked by the second
// rule, and the warning icon's tooltip and the error toast name that rule
// and the next send time (midnight in São Paulo, the browser's zone). For a
// utility template the contact is not at a limit. Then "weekly" goes into
// shadow mode with a max of 1: the next send is allowed, and only the admin
// sees that the shadow rule would have blocked it.
func TestBrowserRules(t *testing.T) {
	const zone = "America/Sao_Paulo"
	loc, err := time.LoadLocation(zone)
	if err != nil {
		t.Fatal(err)
	}
	p := newPage(t)
	broker, procURL := startProcessor(t)
	verdicts := watchVerdicts(t, broker)
	consoleURL := startConsole(t, broker, procURL)
	const contact = "5531999990000@wa"
	row := `li[data-contact-id="` + contact + `"]`
	rule := func(n int) string { return fmt.Sprintf(`#rules > .rule:nth-child(%d) `, n) }
	set := func(what, sel, value string) { // a select's value, or a checkbox ("true"/"false")
		p.eval(what, `(() => { const e = document.querySelector('`+sel+`');
			if (e.type === 'checkbox') e.checked = `+strconv.Quote(value)+` === 'true'; else e.value = `+strconv.Quote(value)+`;
			e.dispatchEvent(new Event('input', { bubbles: true })); e.dispatchEvent(new Event('change', { bubbles: true })); return String(e.value); })()`)
	}
	typeIn := func(what, sel, text string) {
		p.run(what, chromedp.WaitVisible(sel))
		p.eval(what, `(() => { const e = document.querySelector('`+sel+`'); e.value = ''; return e.value; })()`)
		p.run(what, chromedp.SendKeys(sel, text))
	}
	status := `document.querySelector('#settings-status').textContent`

	p.run("open the console", inZone(zone), chromedp.EmulateViewport(1280, 1400), chromedp.Navigate(consoleURL), chromedp.WaitVisible(`body[data-ready="true"]`))
	p.setRole("admin")
	p.poll("settings loaded", status+`.includes('version 0')`)

	// The admin turns the limit on (3 per 24 h, the default rule) and adds
	// the two rules and the exemption.
	p.run("enable the limit", chromedp.WaitEnabled(`#save`), chromedp.Click(`label.switch`), chromedp.WaitEnabled(`#max`))
	typeIn("max", `#max`, "3")
	p.run("open the rules", chromedp.Click(`#rules-panel summary`), chromedp.WaitVisible(`#add-rule`),
		chromedp.Click(`#add-rule`), chromedp.Click(`#add-rule`), chromedp.WaitVisible(rule(2)+`.rule-name`))
	typeIn("rule 1 name", rule(1)+`.rule-name`, "weekly")
	typeIn("rule 1 max", rule(1)+`.rule-max`, "5")
	typeIn("rule 1 window", rule(1)+`.rule-window`, "7")
	set("rule 1 unit", rule(1)+`.rule-unit`, "86400")
	typeIn("rule 2 name", rule(2)+`.rule-name`, "marketing-daily")
	typeIn("rule 2 max", rule(2)+`.rule-max`, "1")
	set("rule 2 calendar day", rule(2)+`.rule-kind`, "day")
	typeIn("rule 2 zone", rule(2)+`.rule-zone`, "Mars/Olympus")
	set("rule 2 marketing", rule(2)+`.rule-cat[value=marketing]`, "true")
	set("exempt authentication", `.exempt-cat[value=authentication]`, "true")

	// The time zone is refused by the server, on the rule and its field.
	p.run("save", chromedp.Click(`#save`))
	p.poll("refused", `!document.querySelector('`+rule(2)+`.rule-error').hidden`)
	got := p.eval("error", `[document.querySelector('`+rule(2)+`.rule-error').textContent, document.querySelector('`+rule(2)+`.rule-zone').getAttribute('aria-invalid'),
		document.querySelector('`+rule(1)+`.rule-error').hidden, `+status+`].join(' | ')`)
	if want := `time_zone: unknown time zone "Mars/Olympus" (an IANA name such as America/Sao_Paulo or UTC) | true | true | Not saved: rules[1]: time_zone: unknown time zone "Mars/Olympus"`; !strings.HasPrefix(got, want) {
		t.Fatalf("a mistyped time zone:\n got %s\nwant %s…", got, want)
	}
	typeIn("rule 2 zone", rule(2)+`.rule-zone`, zone)
	p.run("save again", chromedp.Click(`#save`))
	p.poll("saved", `/ersion 1 (is )?in force/.test(`+status+`)`)

	// The event carries the rules and the exemption as the contract writes
	// them.
	var ev struct {
		Data struct {
			Version        int64           `json:"version"`
			ActiveMessages json.RawMessage `json:"active_messages"`
		} `json:"data"`
	}
	if err := json.Unmarshal(lastSettings(t, broker), &ev); err != nil {
		t.Fatal(err)
	}
	want := compact(t, `{"limit_enabled":true,"max_per_contact":3,"window_seconds":86400,"scope":"contact","rules":[
		{"name":"weekly","max":5,"window_seconds":604800},
		{"name":"marketing-daily","max":1,"calendar":"day","time_zone":"America/Sao_Paulo","categories":["marketing"]}],
		"exempt_categories":["authentication"]}`)
	if got := string(ev.Data.ActiveMessages); ev.Data.Version != 1 || got != want {
		t.Fatalf("published settings version %d:\n got %s\nwant %s", ev.Data.Version, got, want)
	}
	// The form shows what the processor has in force: the rules too.
	if got := p.eval("rules in force", `[...document.querySelectorAll('#rules .rule-name')].map((e) => e.value).join(' ')`); got != "weekly marketing-daily" {
		t.Fatalf("rules in the form after the save: %q, want weekly marketing-daily (does the processor's settings answer carry them?)", got)
	}

	// The agent sends two marketing templates to Maria.
	p.setRole("agent")
	set("marketing", `#category`, "marketing")
	p.run("choose the contact", chromedp.Click(row), chromedp.WaitVisible(row+`[aria-checked="true"]`))
	for n := 1; n <= 2; n++ {
		p.run(fmt.Sprintf("send %d", n), chromedp.WaitEnabled(`#send`), chromedp.Click(`#send`),
			chromedp.WaitVisible(fmt.Sprintf(`#log tbody tr:nth-child(%d)`, n)), chromedp.WaitEnabled(`#send`))
	}
	if got := p.eval("verdict log", `[...document.querySelectorAll('#log tbody tr')].map((r) => r.dataset.verdict).join(' ')`); got != "blocked allowed" {
		t.Fatalf("verdict log, newest first: %q, want blocked allowed (the second marketing template is over marketing-daily)", got)
	}
	v := verdicts.get(t, p.eval("blocked attempt", `document.querySelector('#log tbody tr').dataset.attemptId`))
	decided := time.UnixMilli(v.DecidedAtMs).In(loc)
	midnight := time.Date(decided.Year(), decided.Month(), decided.Day()+1, 0, 0, 0, 0, loc)
	if v.Verdict != "blocked" || v.Rule != "marketing-daily" || v.Calendar != "day" || v.TimeZone != zone || v.RetryAtMs != midnight.UnixMilli() {
		t.Fatalf("verdict of the second send: %+v; want blocked by marketing-daily until %s", v, midnight)
	}
	if got := p.eval("rule column", `document.querySelector('#log tbody tr .rule-cell').textContent`); got != "marketing-daily" {
		t.Errorf("the verdict log's rule: %q, want marketing-daily", got)
	}
	label := "Marketing daily limit (1 per calendar day in America/Sao_Paulo) reached. Next send possible "

	// The toast and the tooltip name the rule and the next send time.
	if got, want := p.eval("error toast", `(document.querySelector('.toast.error strong') || {}).textContent || ''`), label+nextSendTime(v.RetryAtMs, time.Now(), loc); got != want {
		t.Errorf("error toast:\n got %q\nwant %q", got, want)
	}
	p.run("warning icon", chromedp.WaitVisible(row+` .warn svg`))
	xy := p.eval("icon position", `(() => { const r = document.querySelector('`+row+` .warn').getBoundingClientRect(); return (r.x + r.width/2) + ' ' + (r.y + r.height/2); })()`)
	var x, y float64
	if _, err := fmt.Sscan(xy, &x, &y); err != nil {
		t.Fatalf("icon position %q: %v", xy, err)
	}
	p.run("hover the icon", chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x, y), chromedp.WaitVisible(row+` .warn .tooltip`))
	tip := p.eval("tooltip", `document.querySelector('`+row+` .warn .tooltip').textContent`)
	if want := label + nextSendTime(v.RetryAtMs, time.Now(), loc); tip != want {
		t.Errorf("tooltip:\n got %q\nwant %q", tip, want)
	}
	if at := p.eval("tooltip time", `document.querySelector('`+row+` .warn .tooltip time').dataset.at`); at != strconv.FormatInt(v.RetryAtMs, 10) {
		t.Errorf("the tooltip's time is %s, the verdict's retry_at %d", at, v.RetryAtMs)
	}

	// A utility template is not counted by marketing-daily: no warning.
	p.run("move the mouse away", chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 5, 5))
	set("utility", `#category`, "utility")
	p.poll("no warning for utility", `!document.querySelector('`+row+` .warn') && document.querySelector('#quota-line').textContent.includes('left')`)
	if got := p.eval("quota line", `document.querySelector('#quota-line').textContent`); got != "Default limit (3 per 24 hours): 1 of 3 active messages used in the last 24 hours, 2 left." {
		t.Errorf("quota line for a utility template: %q", got)
	}

	// "weekly" in shadow mode with a max of 1: the one send counted is
	// its limit, so it would block the next one, which goes out.
	p.setRole("admin")
	set("weekly in shadow mode", rule(1)+`.rule-shadow`, "true")
	typeIn("weekly max", rule(1)+`.rule-max`, "1")
	p.run("save", chromedp.Click(`#save`))
	p.poll("saved", `/ersion 2 (is )?in force/.test(`+status+`)`)
	p.setRole("agent")
	p.run("send 3", chromedp.WaitEnabled(`#send`), chromedp.Click(`#send`), chromedp.WaitVisible(`#log tbody tr:nth-child(3)`), chromedp.WaitEnabled(`#send`))
	v = verdicts.get(t, p.eval("third attempt", `document.querySelector('#log tbody tr').dataset.attemptId`))
	if v.Verdict != "allowed" || len(v.Rules) != 2 || v.Rules[1].Name != "weekly" || !v.Rules[1].WouldBlock {
		t.Fatalf("verdict of the utility send: %+v; want allowed, weekly would_block", v)
	}
	shadow := `[document.querySelector('#toasts .toast').dataset.testid, document.querySelector('#log tbody tr [data-testid=would-block]').checkVisibility(),
		!!document.querySelector('` + rule(1) + `.rule-report').checkVisibility(), document.querySelector('` + rule(1) + `.rule-report').textContent].join(' | ')`
	if got := p.eval("agent view", shadow); !strings.HasPrefix(got, "toast-success | false | false | Shadow mode: would have blocked 1 send seen by this page") {
		t.Errorf("the agent sees: %s; want a success toast and nothing of the shadow rule", got)
	}
	p.setRole("admin")
	if got := p.eval("admin view", shadow); !strings.HasPrefix(got, "toast-success | true | true | Shadow mode: would have blocked 1 send seen by this page, the last at ") {
		t.Errorf("the admin sees: %s; want the shadow rule's would-block in the log and on the rule", got)
	}
}
