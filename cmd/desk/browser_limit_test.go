package main

import (
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

var screenshot = flag.String("screenshot", "", "TestBrowser writes a screenshot of the blocked state here (e.g. ../../docs/desk.png)")

// TestBrowser drives the console in headless Chromium against the real
// processor: the admin enables a limit of 2, an agent sends three active
// messages to one contact, and the third shows the error toast, the warning
// icon and the tooltip with the time left until the verdict's retry_at.
func TestBrowser(t *testing.T) {
	p := newPage(t)
	run, eval, poll := p.run, p.eval, p.poll
	broker, procURL := startProcessor(t)
	verdicts := watchVerdicts(t, broker)

	// The processor's settings answers wait until the test has seen the
	// page before its data (the loading state).
	target, err := url.Parse(procURL)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var releaseOnce sync.Once
	releaseSettings := func() { releaseOnce.Do(func() { close(release) }) }
	proxy := httputil.NewSingleHostReverseProxy(target)
	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/settings") {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(gate.Close)
	t.Cleanup(releaseSettings)
	procURL = gate.URL

	consoleURL := startConsole(t, broker, procURL)
	const contact = "5531999990000@wa"
	row := `li[data-contact-id="` + contact + `"]`

	// An agent sees the settings read-only.
	run("open the console", chromedp.EmulateViewport(1280, 960), chromedp.Navigate(consoleURL), chromedp.WaitVisible(`body[data-ready="true"]`))
	// Before the first settings answer nothing in the form passes for the
	// settings in force: the card is busy, says it is loading, shows no
	// values and cannot be edited, even by an admin.
	eval("switch to Admin while loading", `(() => { const r = document.querySelector('#role'); r.value = 'admin'; r.dispatchEvent(new Event('change')); return r.value; })()`)
	loading := `[document.querySelector('#settings-card').getAttribute('aria-busy'), document.querySelector('#settings-card').classList.contains('loading'),
		document.querySelector('#settings-status').textContent, JSON.stringify(document.querySelector('#max').value), JSON.stringify(document.querySelector('#window').value),
		document.querySelector('#settings-fields').disabled, document.querySelectorAll('input[name=scope]:checked').length].join(' | ')`
	if got, want := eval("loading state", loading), `true | true | Loading the settings in force… | "" | "" | true | 0`; got != want {
		t.Fatalf("settings card before its data:\n got %s\nwant %s", got, want)
	}
	releaseSettings()
	poll("settings loaded", `document.querySelector('#settings-status').textContent.includes('version 0')`)
	if got := eval("loaded", `document.querySelector('#settings-card').getAttribute('aria-busy') + ' ' + document.querySelector('#settings-card').classList.contains('loading') + ' ' + document.querySelector('#max').value`); got != "false false 3" {
		t.Fatalf("settings card after its data: aria-busy, loading, max = %s, want false false 3", got)
	}
	eval("back to Agent", `(() => { const r = document.querySelector('#role'); r.value = 'agent'; r.dispatchEvent(new Event('change')); return r.value; })()`)
	if got := eval("agent view", `String(document.querySelector('#settings-fields').disabled) + ' ' + document.querySelector('#readonly-note').hidden`); got != "true false" {
		t.Fatalf("as Agent, settings disabled / note hidden = %s, want true false", got)
	}

	// The admin enables a limit of 2 per customer in a 24 h window.
	eval("switch to Admin", `(() => { const r = document.querySelector('#role'); r.value = 'admin'; r.dispatchEvent(new Event('change')); return r.value; })()`)
	run("edit the settings",
		chromedp.WaitEnabled(`#save`),
		chromedp.Click(`label.switch`),
		chromedp.WaitEnabled(`#max`),
		chromedp.Clear(`#max`),
		chromedp.SendKeys(`#max`, "2"),
	)
	if got := eval("form", `[document.querySelector('#limit-enabled').checked, document.querySelector('#max').value, document.querySelector('#window').value, document.querySelector('#window-unit').value, document.querySelector('input[name=scope]:checked').value].join(' ')`); got != "true 2 24 3600 contact" {
		t.Fatalf("settings form: %q, want enabled, max 2, 24 hours, scope contact", got)
	}
	run("save", chromedp.Click(`#save`))
	// "Saved: version 1 is in force." or, once reloaded, "Version 1 in force."
	poll("saved", `/ersion 1 (is )?in force/.test(document.querySelector('#settings-status').textContent)`)

	// The agent sends three active messages to Maria.
	run("choose the contact", chromedp.Click(row), chromedp.WaitVisible(row+`[aria-checked="true"]`))
	var sent3 time.Time
	for n := 1; n <= 3; n++ {
		if n == 3 {
			sent3 = time.Now()
		}
		run(fmt.Sprintf("send %d", n), chromedp.WaitEnabled(`#send`), chromedp.Click(`#send`),
			chromedp.WaitVisible(fmt.Sprintf(`#log tbody tr:nth-child(%d)`, n)), chromedp.WaitEnabled(`#send`))
	}
	got := eval("verdict log", `[...document.querySelectorAll('#log tbody tr')].map(r => r.dataset.verdict).join(' ')`)
	if got != "blocked allowed allowed" {
		t.Fatalf("verdict log, newest first: %q, want blocked allowed allowed", got)
	}
	blockedID := eval("blocked attempt", `document.querySelector('#log tbody tr').dataset.attemptId`)
	v := verdicts.get(t, blockedID)
	if v.Verdict != "blocked" || v.Reason != "limit_reached" || v.ContactID != contact || v.RetryAtMs == 0 {
		t.Fatalf("verdict of the third send: %+v", v)
	}
	retryAt := time.UnixMilli(v.RetryAtMs)

	// The error toast names the reason and the wait.
	toast := eval("error toast", `(document.querySelector('.toast.error strong') || {}).textContent || ''`)
	// The toast was rendered when the verdict came, then ticked: what it
	// shows was computed between the click and the read.
	checkWait(t, "error toast", toast, "Active message limit reached for this contact. Try again in ", ".", retryAt, sent3.Add(-5*time.Millisecond), time.Now().Add(5*time.Millisecond))
	// The toasts (up to three: the two sends' and this one) cover nothing
	// of the settings card's text and controls (that are shown: the closed
	// "more rules" panel's are not).
	overlap := eval("toasts over the settings card", `(() => {
		const hit = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
		const toasts = [...document.querySelectorAll('#toasts .toast')].map((t) => t.getBoundingClientRect());
		const out = [];
		for (const e of document.querySelectorAll('#settings-card :is(h2, .hint, label, legend, small, input, select, button, #settings-status)')) {
			const r = e.getBoundingClientRect();
			if (r.width && e.checkVisibility() && toasts.some((t) => hit(t, r))) out.push(e.id || e.tagName.toLowerCase() + ':' + e.textContent.trim().slice(0, 30));
		}
		return toasts.length + ' toasts; covered: ' + out.join(', ');
	})()`)
	if !strings.HasSuffix(overlap, "covered: ") || strings.HasPrefix(overlap, "0 ") {
		t.Fatalf("%s", overlap)
	}

	// The warning icon is on the contact's row and on the selection button;
	// hovering it shows the tooltip.
	run("warning icons", chromedp.WaitVisible(row+` .warn svg`), chromedp.WaitVisible(`#contact-button .warn svg`))
	if n := eval("other rows", `String(document.querySelectorAll('#contacts .warn').length)`); n != "1" {
		t.Fatalf("%s contact rows have a warning icon, want 1", n)
	}
	xy := eval("icon position", `(() => { const r = document.querySelector('`+row+` .warn').getBoundingClientRect(); return (r.x + r.width/2) + ' ' + (r.y + r.height/2); })()`)
	var x, y float64
	if _, err := fmt.Sscan(xy, &x, &y); err != nil {
		t.Fatalf("icon position %q: %v", xy, err)
	}
	// Opening the tooltip re-renders the countdown, which then ticks every
	// second: what it shows was computed between the hover and the read
	// (with a few ms for the page clock's whole milliseconds).
	before := time.Now()
	run("hover the icon", chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x, y), chromedp.WaitVisible(row+` .warn .tooltip`))
	tip := eval("tooltip", `document.querySelector('`+row+` .warn .tooltip').textContent`)
	after := time.Now()
	checkWait(t, "tooltip", tip, "You can send a new active message to this contact in ", "", retryAt, before.Add(-5*time.Millisecond), after.Add(5*time.Millisecond))
	if until := eval("countdown target", `document.querySelector('`+row+` .warn .tooltip [data-until]').dataset.until`); until != strconv.FormatInt(v.RetryAtMs, 10) {
		t.Fatalf("the tooltip counts down to %s, the verdict's retry_at is %d", until, v.RetryAtMs)
	}

	if *screenshot != "" {
		// No toast half-way through its entrance animation.
		run("reduce motion", reducedMotion())
		png, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*screenshot, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", *screenshot)
	}

	// Keyboard focus on the send button, while the contact is at its limit,
	// shows the same tooltip (hover is not the only way), which describes
	// the button, with a focus ring in the warning colour.
	if got := eval("send tooltip hidden", `getComputedStyle(document.querySelector('#send-tip')).display`); got != "none" {
		t.Fatalf("the send button's tooltip shows before the button has focus (display %s)", got)
	}
	if got := eval("send described", `document.querySelector('#send').getAttribute('aria-describedby')`); got != "send-tip" {
		t.Fatalf("#send aria-describedby=%q, want send-tip", got)
	}
	run("move the mouse away", chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 5, 5))
	eval("focus the contact button", `(() => { document.querySelector('#contact-button').focus(); return document.activeElement.id; })()`)
	before = time.Now()
	run("tab to the send button", chromedp.KeyEvent("\t"), chromedp.WaitVisible(`#send-tip`))
	tip = eval("send tooltip", `document.activeElement.id + ': ' + document.querySelector('#send-tip').textContent`)
	after = time.Now()
	checkWait(t, "send button tooltip", tip, "send: You can send a new active message to this contact in ", "", retryAt, before.Add(-5*time.Millisecond), after.Add(5*time.Millisecond))
	if got := eval("focus ring", `(() => { const s = getComputedStyle(document.querySelector('#send')); return s.outlineStyle + ' ' + s.outlineColor; })()`); got != "solid rgb(246, 167, 33)" {
		t.Fatalf("focused send button outline %q, want solid rgb(246, 167, 33) (--warn)", got)
	}
}
