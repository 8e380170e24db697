package pipeline

import (
	"errors"
	"fmt"

	"github.com/segmentio/kafka-go"
)

var errNotInitialised = errors.New("producer not initialised")

// errClass sorts the errors of a transaction.
type errClass int

const (
	// retryable: abort, init again, and read the batch again.
	retryable errClass = iota
	// lost: another instance owns the partition now (the producer was
	// fenced, or the member lost its generation). The worker stops and
	// commits nothing locally.
	lost
	// fatal: a configuration or permission problem that retrying cannot
	// fix. The processor stops with the cause.
	fatal
)

func (c errClass) String() string {
	if c == lost {
		return "partition lost"
	}
	return c.label()
}

// label is the class as a metric label: retryable, lost or fatal.
func (c errClass) label() string {
	switch c {
	case retryable:
		return "retryable"
	case lost:
		return "lost"
	}
	return "fatal"
}

// TxnError is an error of a transactional write, with its class.
type TxnError struct {
	Op    string
	Err   error
	class errClass
}

func (e *TxnError) Error() string {
	return fmt.Sprintf("pipeline: %s (transaction, %s): %v", e.Op, e.class, e.Err)
}

func (e *TxnError) Unwrap() error { return e.Err }

func txnErr(op string, err error) error {
	var te *TxnError
	if errors.As(err, &te) {
		return err
	}
	return &TxnError{Op: op, Err: err, class: classify(err)}
}

// classOf returns the class of an error returned by txnProducer.
func classOf(err error) errClass {
	var te *TxnError
	if errors.As(err, &te) {
		return te.class
	}
	return classify(err)
}

// Kafka error codes kafka-go has no name for.
const (
	staleMemberEpoch kafka.Error = 113
)

func classify(err error) errClass {
	var ke kafka.Error
	if !errors.As(err, &ke) {
		return retryable // network errors, timeouts, a closed connection
	}
	switch ke {
	case kafka.ProducerFenced, kafka.InvalidProducerEpoch, kafka.TransactionCoordinatorFenced,
		kafka.IllegalGeneration, kafka.UnknownMemberId, kafka.RebalanceInProgress, kafka.FencedInstanceID,
		staleMemberEpoch:
		return lost
	case kafka.TransactionalIDAuthorizationFailed, kafka.TopicAuthorizationFailed, kafka.GroupAuthorizationFailed,
		kafka.ClusterAuthorizationFailed, kafka.UnsupportedVersion, kafka.UnsupportedForMessageFormat,
		kafka.InvalidTransactionTimeout, kafka.InvalidRequiredAcks, kafka.SecurityDisabled, kafka.InvalidRecord:
		return fatal
	}
	// ConcurrentTransactions, OutOfOrderSequenceNumber, InvalidProducerIDMapping, TransactionAbortable, …;
	// NotCoordinator, CoordinatorNotAvailable, BrokerNotAvailable: the coordinator is looked up again (coordinator.go).
	return retryable
}
