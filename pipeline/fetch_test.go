package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// A fetch that watches another topic's partitions returns the fetched
// partition's records only, and the watched partitions' last stable
// offsets as the broker read them; a watched partition the broker answers
// with an error (an offset past its end) leaves them unknown, and the
// records still come back. One kafka-go cannot send to the fetched
// partition's leader (a partition it does not know, or of another leader)
// fails the fetch whole: the worker then fetches without them.
func TestFetchWatching(t *testing.T) {
	const watched = "txn-watched"
	e := newTxnEnv(t, kfake.SeedTopics(1, watched))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := e.producer("watch")
	// 3 records on the fetched partition; 2 and a commit marker on the
	// watched one (its last stable offset is 3).
	if _, err := p.commit(ctx, []txnPart{{tp: topicPartition{txnTopic, 0}, msgs: msgs("a", 3)},
		{tp: topicPartition{watched, 0}, msgs: msgs("s", 2)}}, noOffset(), time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		offsets map[int]int64
		want    map[int]int64 // nil: unknown
		wantErr bool
	}{
		{"from its start", map[int]int64{0: 0}, map[int]int64{0: 3}, false},
		{"from its end", map[int]int64{0: 3}, map[int]int64{0: 3}, false},
		{"past its end", map[int]int64{0: 100}, nil, false},
		{"a partition that does not exist", map[int]int64{0: 0, 7: 0}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := e.b.fetchWatching(ctx, txnTopic, 0, 0, 100, nil, &watch{topic: watched, offsets: tc.offsets})
			if tc.wantErr {
				if err == nil {
					t.Fatalf("no error; watched %v", res.watched)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(res.records) != 3 || string(res.records[0].Key) != "a-k0" || string(res.records[2].Key) != "a-k2" {
				t.Fatalf("records: %+v, want a-k0..a-k2 alone", res.records)
			}
			if (res.watched == nil) != (tc.want == nil) || len(res.watched) != len(tc.want) {
				t.Fatalf("watched %v, want %v", res.watched, tc.want)
			}
			for p, off := range tc.want {
				if res.watched[p] != off {
					t.Fatalf("watched %v, want %v", res.watched, tc.want)
				}
			}
		})
	}
}
