package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// consume reads the verdicts topic until ctx is done.
func (s *Server) consume(ctx context.Context) {
	for {
		fs := s.kafka.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		var errs []string
		fs.EachError(func(topic string, p int32, err error) {
			errs = append(errs, fmt.Sprintf("%s[%d]: %v", topic, p, err))
		})
		s.consumerMu.Lock()
		if len(errs) > 0 {
			msg := strings.Join(errs, "; ")
			if msg != s.consumerErr {
				s.cfg.Logf("reading verdicts: %s", msg)
			}
			s.consumerErr = msg
		} else {
			s.consumerErr = ""
		}
		s.consumerMu.Unlock()
		fs.EachRecord(func(r *kgo.Record) {
			v, err := decodeVerdict(r.Value)
			if err != nil {
				s.cfg.Logf("ignoring an undecodable verdict at %s[%d]@%d: %v", r.Topic, r.Partition, r.Offset, err)
				return
			}
			s.hub.deliver(v)
		})
	}
}
