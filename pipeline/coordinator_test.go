package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// lookups counts the FindCoordinator requests the cluster answers, by
// coordinator type and key ("txn g-t-0", "group g"), and the broker each
// coordinator request of the given keys reached.
type lookups struct {
	mu    sync.Mutex
	seen  map[string]int
	nodes map[string][]int32 // request name → broker ids, in order
}

func countLookups(c *kfake.Cluster) *lookups {
	l := &lookups{seen: map[string]int{}, nodes: map[string][]int32{}}
	c.ControlKey(int16(kmsg.FindCoordinator), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.FindCoordinatorRequest)
		kind := "group"
		if r.CoordinatorType == int8(kafka.CoordinatorKeyTypeTransaction) {
			kind = "txn"
		}
		keys := r.CoordinatorKeys
		if r.Version < 4 {
			keys = []string{r.CoordinatorKey}
		}
		l.mu.Lock()
		for _, k := range keys {
			l.seen[kind+" "+k]++
		}
		l.mu.Unlock()
		return nil, nil, false
	})
	for _, k := range []kmsg.Key{kmsg.InitProducerID, kmsg.AddPartitionsToTxn, kmsg.AddOffsetsToTxn, kmsg.TxnOffsetCommit, kmsg.EndTxn} {
		c.ControlKey(int16(k), func(req kmsg.Request) (kmsg.Response, error, bool) {
			c.KeepControl()
			l.mu.Lock()
			l.nodes[k.Name()] = append(l.nodes[k.Name()], c.CurrentNode())
			l.mu.Unlock()
			return nil, nil, false
		})
	}
	return l
}

func (l *lookups) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(l.seen)
}

// A producer looks its coordinators up once, not before every request:
// one FindCoordinator for its transactional id and one for the group,
// whatever the number of transactions (kafka-go's Transport alone sends one
// before each of a transaction's four coordinator requests).
func TestTxnFindsCoordinatorOnce(t *testing.T) {
	e := newTxnEnv(t)
	l := countLookups(e.cluster)
	ctx := context.Background()
	p := e.producer("g-t-0")
	for i := range 5 {
		parts := []txnPart{{tp: topicPartition{txnTopic, int32(i % 2)}, msgs: msgs(fmt.Sprint("t", i), 2)}}
		if _, err := p.commit(ctx, parts, noOffset(), time.Now().UnixMilli()); err != nil {
			t.Fatalf("transaction %d: %v", i, err)
		}
	}
	if got, want := l.String(), "map[group g:1 txn g-t-0:1]"; got != want {
		t.Fatalf("FindCoordinator requests: %s, want %s", got, want)
	}
	if got := e.readCommitted(10); len(got[0])+len(got[1]) != 10 {
		t.Fatalf("read committed: %v, want the 10 records", got)
	}
}

// The coordinators move to other brokers (kfake rehashes every id, until
// both the transactional id's and the group's are elsewhere): each request
// to an old coordinator is refused with NOT_COORDINATOR, classified
// retryable; the worker's abort and init look the transaction coordinator
// up again, the next TxnOffsetCommit the group's, and the batch commits
// once both are found: two failed attempts, two more lookups, none per
// request.
func TestTxnCoordinatorMoves(t *testing.T) {
	e := newTxnEnv(t, kfake.NumBrokers(3))
	l := countLookups(e.cluster)
	ctx := context.Background()
	const id = "g-t-0"
	p := e.producer(id)
	// commit is what a worker does with a batch: on a retryable error,
	// abort, init, and try again. It returns the errors it met.
	commit := func(prefix string) []error {
		var errs []error
		for range 5 {
			_, err := p.commit(ctx, []txnPart{{tp: topicPartition{txnTopic, 0}, msgs: msgs(prefix, 1)}}, noOffset(), time.Now().UnixMilli())
			if err == nil {
				return errs
			}
			if classOf(err) != retryable {
				t.Fatalf("transaction %s: %v (class %v), want retryable", prefix, err, classOf(err))
			}
			errs = append(errs, err)
			_ = p.abort(ctx)
			if err := p.init(ctx); err != nil {
				t.Fatal(err)
			}
		}
		t.Fatalf("transaction %s: still failing: %v", prefix, errs)
		return nil
	}
	if errs := commit("before"); errs != nil {
		t.Fatal(errs)
	}
	// Every coordinator request went to the coordinator (kfake answers
	// NOT_COORDINATOR elsewhere).
	txnNode, groupNode := e.cluster.CoordinatorFor(id), e.cluster.CoordinatorFor("g")
	l.mu.Lock()
	got := fmt.Sprint(l.nodes)
	l.mu.Unlock()
	if want := fmt.Sprintf("map[AddOffsetsToTxn:[%d] AddPartitionsToTxn:[%d] EndTxn:[%d] InitProducerID:[%d] TxnOffsetCommit:[%d]]",
		txnNode, txnNode, txnNode, txnNode, groupNode); got != want {
		t.Fatalf("brokers the requests reached: %s, want %s", got, want)
	}
	for i := 0; e.cluster.CoordinatorFor(id) == txnNode || e.cluster.CoordinatorFor("g") == groupNode; i++ {
		if i == 100 {
			t.Fatal("kfake's coordinators do not move")
		}
		e.cluster.RehashCoordinators()
	}
	errs := commit("moved")
	if len(errs) != 2 {
		t.Fatalf("the batch after the move failed %d times (%v), want twice (once per coordinator)", len(errs), errs)
	}
	for _, err := range errs {
		if !errors.Is(err, kafka.NotCoordinatorForGroup) {
			t.Fatalf("the batch after the move: %v, want NOT_COORDINATOR", err)
		}
	}
	for i := range 3 {
		if errs := commit(fmt.Sprint("after", i)); errs != nil {
			t.Fatalf("transaction %d after the move: %v", i, errs)
		}
	}
	if got, want := l.String(), "map[group g:2 txn g-t-0:2]"; got != want {
		t.Fatalf("FindCoordinator requests: %s, want %s", got, want)
	}
	if got := fmt.Sprint(e.readCommitted(5)[0]); got != "[before-k0=before-v0 moved-k0=moved-v0 after0-k0=after0-v0 after1-k0=after1-v0 after2-k0=after2-v0]" {
		t.Fatalf("read committed: %s", got)
	}
}

// A coordinator that answers NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE
// once, or whose connection breaks, fails the transaction, retryable, and
// is looked up again (that coordinator only); the next transaction commits.
func TestTxnCoordinatorErrorLooksUpAgain(t *testing.T) {
	for _, c := range []struct {
		name   string
		key    kmsg.Key
		answer func(kmsg.Request) (kmsg.Response, error)
		lookup string // the coordinator looked up again
	}{
		{"EndTxn NOT_COORDINATOR", kmsg.EndTxn, func(req kmsg.Request) (kmsg.Response, error) {
			resp := req.ResponseKind().(*kmsg.EndTxnResponse)
			resp.ErrorCode = kerr.NotCoordinator.Code
			return resp, nil
		}, "txn"},
		{"AddOffsetsToTxn COORDINATOR_NOT_AVAILABLE", kmsg.AddOffsetsToTxn, func(req kmsg.Request) (kmsg.Response, error) {
			resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
			resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			return resp, nil
		}, "txn"},
		{"TxnOffsetCommit NOT_COORDINATOR", kmsg.TxnOffsetCommit, func(req kmsg.Request) (kmsg.Response, error) {
			r := req.(*kmsg.TxnOffsetCommitRequest)
			resp := r.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
			for _, rt := range r.Topics {
				st := kmsg.NewTxnOffsetCommitResponseTopic()
				st.Topic = rt.Topic
				for _, rp := range rt.Partitions {
					sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
					sp.Partition, sp.ErrorCode = rp.Partition, kerr.NotCoordinator.Code
					st.Partitions = append(st.Partitions, sp)
				}
				resp.Topics = append(resp.Topics, st)
			}
			return resp, nil
		}, "group"},
		{"AddPartitionsToTxn connection closed", kmsg.AddPartitionsToTxn, func(kmsg.Request) (kmsg.Response, error) {
			return nil, errors.New("injected: close the connection")
		}, "txn"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newTxnEnv(t)
			l := countLookups(e.cluster)
			ctx := context.Background()
			p := e.producer("g-t-0")
			commit := func(prefix string) error {
				_, err := p.commit(ctx, []txnPart{{tp: topicPartition{txnTopic, 0}, msgs: msgs(prefix, 1)}}, noOffset(), time.Now().UnixMilli())
				return err
			}
			if err := commit("first"); err != nil {
				t.Fatal(err)
			}
			e.cluster.ControlKey(int16(c.key), func(req kmsg.Request) (kmsg.Response, error, bool) {
				resp, err := c.answer(req)
				return resp, err, true // once: not kept
			})
			if err := commit("failed"); classOf(err) != retryable {
				t.Fatalf("the transaction that met the error: %v (class %v), want retryable", err, classOf(err))
			}
			_ = p.abort(ctx) // best effort, as the worker does
			if err := p.init(ctx); err != nil {
				t.Fatal(err)
			}
			if err := commit("next"); err != nil {
				t.Fatalf("the next transaction: %v", err)
			}
			want := map[string]int{"txn g-t-0": 1, "group g": 1}
			want[map[string]string{"txn": "txn g-t-0", "group": "group g"}[c.lookup]]++
			if got := l.String(); got != fmt.Sprint(want) {
				t.Fatalf("FindCoordinator requests: %s, want %v", got, want)
			}
			if got := fmt.Sprint(e.readCommitted(2)[0]); got != "[first-k0=first-v0 next-k0=next-v0]" {
				t.Fatalf("read committed: %s", got)
			}
		})
	}
}
