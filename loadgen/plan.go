package loadgen

import (
	"bytes"
	crand "crypto/rand"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/sendgate/sendgate/events"
	"github.com/sendgate/sendgate/quota"
)

// kind is what a record of the attempts topic is.
type kind uint8

const (
	kindAttempt   kind = iota // a new, valid attempt
	kindInvalid               // a new attempt without agent_id: rejected
	kindDuplicate             // an earlier attempt sent again
	kindFailed                // a send-failed event releasing an earlier attempt
)

// record is one record of the attempts topic: planned before the run, then
// filled in by the producer's promise and by the verdict consumer. Each
// group of fields has one writer.
type record struct {
	// Planned; read-only during the run.
	kind    kind
	attempt int32 // the attempt (new, duplicate) or the released attempt (failed)
	tsMs    int64 // the record timestamp and CloudEvents time

	// Written by the producer's promise before acked is incremented.
	partition int32
	offset    int64
	ackNs     int64 // since the run's origin
	err       error

	// Written by the verdict consumer: the verdict matched to this record.
	recvNs  int64
	verdict []byte
}

// attempt is one distinct attempt id.
type attempt struct {
	contact int32
	agent   int32
	rec     int32 // its first record
}

// bot is one bot with its settings.
type bot struct {
	id       string
	settings quota.Settings
}

// plan is the whole workload, decided before anything is published so that
// the producer and the consumer only ever read it.
type plan struct {
	run      string // unique per run: prefixes every id
	bots     []bot
	contacts int
	agents   []string
	attempts []attempt
	dups     map[int32][]int32 // attempt -> its re-sent records, in order
	recs     []record

	attemptPrefix string // run + "-a"
	nDup, nFail   int
	nInvalid      int
}

// maxDupAge bounds how old (simulated) an attempt may be when it is sent
// again: well within the processor's least verdict retention (24h).
const maxDupAge = 12 * time.Hour

// recentAttempts is how many of the newest attempts duplicates and send
// failures pick from.
const recentAttempts = 1024

func newRunID() string {
	b := make([]byte, 3)
	_, _ = crand.Read(b)
	return "lg" + strconv.FormatInt(time.Now().UnixMilli(), 36) + hex.EncodeToString(b)
}

// newPlan lays out the workload of cfg (defaults applied) with timestamps
// ending at endMs.
func newPlan(cfg *Config, run string, endMs int64) *plan {
	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))
	p := &plan{run: run, contacts: cfg.Contacts, attemptPrefix: run + "-a", dups: map[int32][]int32{}}

	nDisabled := int(math.Round(float64(cfg.Bots) * cfg.Disabled))
	nAgent := int(math.Round(float64(cfg.Bots) * cfg.AgentContact))
	win := cfg.Window.Milliseconds()
	for i := range cfg.Bots {
		s := quota.Settings{Version: 1, Enabled: true, Max: cfg.Limit, WindowMs: win, Scope: quota.ScopeContact}
		switch {
		case i < nDisabled:
			s.Enabled, s.Max = false, 0
		case i < nDisabled+nAgent:
			s.Scope = quota.ScopeAgentContact
		}
		p.bots = append(p.bots, bot{id: run + "-bot" + strconv.Itoa(i), settings: s})
	}
	for i := range cfg.Agents {
		p.agents = append(p.agents, "agent"+strconv.Itoa(i))
	}

	p.nDup = int(math.Round(float64(cfg.Attempts) * cfg.Duplicates))
	p.nFail = int(math.Round(float64(cfg.Attempts) * cfg.Failed))
	p.nInvalid = int(math.Round(float64(cfg.Attempts) * cfg.Invalid))
	total := cfg.Attempts + p.nDup + p.nFail
	p.recs = make([]record, 0, total)
	p.attempts = make([]attempt, 0, cfg.Attempts)
	spanMs := cfg.Span.Milliseconds()
	baseMs := endMs - spanMs
	remA, remD, remF, remInv := cfg.Attempts, p.nDup, p.nFail, p.nInvalid
	recent := make([]int32, 0, recentAttempts) // ring of the newest attempts
	for j := range total {
		ts := baseMs + int64(float64(j)*float64(spanMs)/float64(total))
		r := rng.IntN(remA + remD + remF)
		k := kindAttempt
		switch {
		case r < remA || len(recent) == 0:
		case r < remA+remD:
			k = kindDuplicate
		default:
			k = kindFailed
		}
		var a int32
		if k != kindAttempt {
			a = recent[rng.IntN(len(recent))]
			if k == kindDuplicate && ts-p.recs[p.attempts[a].rec].tsMs > maxDupAge.Milliseconds() {
				a = int32(len(p.attempts) - 1) // too old to be remembered: the newest
			}
		}
		switch k {
		case kindAttempt:
			if remInv > 0 && rng.IntN(remA) < remInv {
				k = kindInvalid
				remInv--
			}
			remA--
			a = int32(len(p.attempts))
			p.attempts = append(p.attempts, attempt{
				contact: int32(rng.IntN(cfg.Contacts)), agent: int32(rng.IntN(cfg.Agents)), rec: int32(j)})
			if len(recent) < recentAttempts {
				recent = append(recent, a)
			} else {
				recent[int(a)%recentAttempts] = a
			}
		case kindDuplicate:
			remD--
			p.dups[a] = append(p.dups[a], int32(j))
		case kindFailed:
			remF--
		}
		p.recs = append(p.recs, record{kind: k, attempt: a, tsMs: ts})
	}
	return p
}

func (p *plan) attemptID(a int32) string { return p.attemptPrefix + strconv.Itoa(int(a)) }

func (p *plan) contactID(c int32) string { return "c" + strconv.Itoa(int(c)) + "@wa" }

func (p *plan) botOf(c int32) *bot { return &p.bots[int(c)%len(p.bots)] }

// key returns the record key of a contact: "{bot_id}/{contact_id}".
func (p *plan) key(c int32) []byte {
	return []byte(p.botOf(c).id + "/" + p.contactID(c))
}

// value returns the value of record j. It is deterministic: the model
// rebuilds the values it needs.
func (p *plan) value(j int) []byte {
	r := &p.recs[j]
	a := &p.attempts[r.attempt]
	bot, contact := p.botOf(a.contact).id, p.contactID(a.contact)
	switch r.kind {
	case kindFailed:
		return events.AppendFailed(make([]byte, 0, 256), p.run+"-f"+strconv.Itoa(j), bot, contact, p.attemptID(r.attempt), r.tsMs)
	case kindInvalid:
		return events.AppendAttempt(make([]byte, 0, 256), p.attemptID(r.attempt), bot, contact, "", r.tsMs)
	case kindDuplicate:
		if p.recs[a.rec].kind == kindInvalid {
			return events.AppendAttempt(make([]byte, 0, 256), p.attemptID(r.attempt), bot, contact, "", r.tsMs)
		}
	}
	return events.AppendAttempt(make([]byte, 0, 256), p.attemptID(r.attempt), bot, contact, p.agents[a.agent], r.tsMs)
}

// recordOf returns the k-th record (0: the first) carrying attempt a, or -1.
func (p *plan) recordOf(a int32, k int) int32 {
	if k == 0 {
		return p.attempts[a].rec
	}
	if d := p.dups[a]; k-1 < len(d) {
		return d[k-1]
	}
	return -1
}

var attemptIDMember = []byte(`"attempt_id":"`)

// attemptOf finds the attempt of a verdict value without decoding it (the
// full decode happens after the run, off the measured path). ok is false
// for a verdict of another run or producer.
func (p *plan) attemptOf(v []byte) (int32, bool) {
	i := bytes.Index(v, attemptIDMember)
	if i < 0 {
		return 0, false
	}
	v = v[i+len(attemptIDMember):]
	if !bytes.HasPrefix(v, []byte(p.attemptPrefix)) {
		return 0, false
	}
	v = v[len(p.attemptPrefix):]
	n := 0
	for i, c := range v {
		switch {
		case c >= '0' && c <= '9' && i < 10:
			n = n*10 + int(c-'0')
		case c == '"' && i > 0:
			if n >= len(p.attempts) {
				return 0, false
			}
			return int32(n), true
		default:
			return 0, false
		}
	}
	return 0, false
}
