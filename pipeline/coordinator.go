package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/segmentio/kafka-go/protocol/findcoordinator"
)

// coordinator is the broker that coordinates one transactional id or one
// consumer group, looked up once and remembered.
//
// kafka-go's Transport looks the coordinator up again before every group or
// transactional request (a FindCoordinator round trip first, then the
// request: transport.go, connPool.sendRequest), which doubled the serial
// round trips of a batch's transaction. A coordinator sends FindCoordinator
// once, sends the requests straight to the broker it named, and looks it
// up again only after that broker answered NOT_COORDINATOR or
// COORDINATOR_NOT_AVAILABLE, or the request failed without an answer
// (connection refused or reset, timeout, a node the transport does not
// know). The request that saw it still fails, classified retryable as
// before: the worker aborts, inits again and reads the batch again, and the
// next request finds the new coordinator. The requests and their order are
// unchanged; only the FindCoordinator before each is gone.
//
// # How a request reaches a given broker
//
// The Transport sends a request that implements protocol.BrokerMessage to
// the broker its Broker method names, over the Transport's own connections
// to that broker: dialled with its TLS and SASL, API versions negotiated
// (ApiVersions, as for every connection), one request in flight per
// connection and as many connections as concurrent requests. So a request
// is wrapped in a toBroker, which names the coordinator. kafka-go's encoder
// cannot encode the wrapper itself: it encodes the fields of the request
// type registered for the API key by reflection index (protocol/encode.go,
// structEncodeFuncOf; reflect.go, fieldByIndex), and field 0 of a wrapper is
// the wrapped request. The wrapper therefore also implements
// protocol.RawExchanger, the hook the connection calls in place of its own
// exchange (protocol/conn.go, Conn.RoundTrip): Required notes the version
// the connection negotiated for the request's API key, and RawExchange
// calls protocol.RoundTrip with the wrapped request, the call the
// connection would have made itself, so the same bytes are written and the
// answer is decoded as the registered response type. (Our own connections
// to the coordinator would have meant dialling, TLS, SASL and version
// negotiation again, and correlation ids or a connection per concurrent
// request.)
type coordinator struct {
	transport kafka.RoundTripper
	addr      net.Addr
	key       string
	keyType   kafka.CoordinatorKeyType
	clientID  string

	mu   sync.Mutex // held during a lookup: concurrent callers wait for its answer
	node int32      // -1: look it up
}

func newCoordinator(transport kafka.RoundTripper, addr net.Addr, key string, keyType kafka.CoordinatorKeyType) *coordinator {
	clientID := ""
	if t, ok := transport.(*kafka.Transport); ok {
		clientID = t.ClientID
	}
	return &coordinator{transport: transport, addr: addr, key: key, keyType: keyType, clientID: clientID, node: -1}
}

// roundTrip sends req to the coordinator and returns its answer, checked by
// check (the answer's error codes). An error that means another broker may
// coordinate now makes the next call look the coordinator up again.
func (c *coordinator) roundTrip(ctx context.Context, req protocol.Message, check func(protocol.Message) error) error {
	node, err := c.lookup(ctx)
	if err != nil {
		return err
	}
	m, err := c.transport.RoundTrip(ctx, c.addr, &toBroker{msg: req, node: node, clientID: c.clientID})
	if err != nil {
		// No answer: the broker may be gone (or unknown to the
		// transport's metadata).
		c.forget(node)
		return err
	}
	if err := check(m); err != nil {
		if movedCoordinator(err) {
			c.forget(node)
		}
		return err
	}
	return nil
}

// lookup returns the coordinator's node id, asking the cluster when it is
// not known.
func (c *coordinator) lookup(ctx context.Context) (int32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.node >= 0 {
		return c.node, nil
	}
	m, err := c.transport.RoundTrip(ctx, c.addr, &findcoordinator.Request{Key: c.key, KeyType: int8(c.keyType)})
	if err != nil {
		return -1, fmt.Errorf("find the coordinator of %s: %w", c.key, err)
	}
	resp := m.(*findcoordinator.Response)
	if resp.ErrorCode != 0 {
		err := error(kafka.Error(resp.ErrorCode))
		if resp.ErrorMessage != "" {
			err = fmt.Errorf("%w: %s", err, resp.ErrorMessage)
		}
		return -1, fmt.Errorf("find the coordinator of %s: %w", c.key, err)
	}
	if resp.NodeID < 0 {
		return -1, fmt.Errorf("find the coordinator of %s: %w", c.key, kafka.GroupCoordinatorNotAvailable)
	}
	c.node = resp.NodeID
	return c.node, nil
}

// forget drops node as the coordinator, unless a later lookup already
// replaced it.
func (c *coordinator) forget(node int32) {
	c.mu.Lock()
	if c.node == node {
		c.node = -1
	}
	c.mu.Unlock()
}

// movedCoordinator reports whether a broker's answer says it does not
// coordinate the key (any more, or not yet).
func movedCoordinator(err error) bool {
	return errors.Is(err, kafka.NotCoordinatorForGroup) || errors.Is(err, kafka.GroupCoordinatorNotAvailable)
}

// toBroker is a request the Transport sends to broker node (see
// coordinator).
type toBroker struct {
	msg      protocol.Message
	node     int32
	clientID string
	version  int16 // set by Required, on the connection's goroutine, before RawExchange
}

// correlationIDs numbers the requests toBroker writes. A Transport
// connection has one request in flight at a time, so any id would do; they
// differ to keep broker logs readable.
var correlationIDs atomic.Int32

func (r *toBroker) ApiKey() protocol.ApiKey { return r.msg.ApiKey() }

// Broker implements protocol.BrokerMessage.
func (r *toBroker) Broker(cluster protocol.Cluster) (protocol.Broker, error) {
	b, ok := cluster.Brokers[r.node]
	if !ok {
		return protocol.Broker{}, fmt.Errorf("coordinator node %d is not in the cluster metadata: %w", r.node, kafka.BrokerNotAvailable)
	}
	return b, nil
}

// Required implements protocol.RawExchanger: always, noting the negotiated
// version.
func (r *toBroker) Required(versions map[protocol.ApiKey]int16) bool {
	r.version = versions[r.msg.ApiKey()]
	return true
}

// RawExchange implements protocol.RawExchanger: what protocol.Conn's
// RoundTrip does with the wrapped request.
func (r *toBroker) RawExchange(rw io.ReadWriter) (protocol.Message, error) {
	if p, ok := r.msg.(protocol.PreparedMessage); ok {
		p.Prepare(r.version)
	}
	return protocol.RoundTrip(rw, r.version, correlationIDs.Add(1), r.clientID, r.msg)
}

var (
	_ protocol.BrokerMessage = (*toBroker)(nil)
	_ protocol.RawExchanger  = (*toBroker)(nil)
)
