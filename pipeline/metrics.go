package pipeline

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the runner's Prometheus metrics. Names and meanings are listed
// in the README.
type metrics struct {
	verdicts        *prometheus.CounterVec // verdict, reason
	ruleVerdicts    *prometheus.CounterVec // rule, verdict: bots with rules
	wouldBlock      *prometheus.CounterVec // rule: shadow rules
	consumed        *prometheus.CounterVec // topic
	dlq             *prometheus.CounterVec // source topic
	forwarded       prometheus.Counter     // attempts records moved to their key's partition
	transactions    *prometheus.CounterVec // result: committed|retryable|lost|fatal
	txnSeconds      prometheus.Histogram   // one batch's transaction, AddPartitions to EndTxn
	duplicates      prometheus.Counter     // attempts answered from the idempotency record
	failedReleased  *prometheus.CounterVec // result: released|unknown
	settingsApplied *prometheus.CounterVec // result: applied|stale|tombstone|invalid
	batchSize       prometheus.Histogram   // records per attempts batch
	batchLatency    prometheus.Histogram   // fetch returned -> state committed
	decisionDelay   prometheus.Histogram   // record timestamp -> verdict acknowledged
	lag             *prometheus.GaugeVec   // partition
	stateKeys       *prometheus.GaugeVec   // kind: history|verdict
	publishRetries  prometheus.Counter
	fetchErrors     *prometheus.CounterVec // topic
	ready           prometheus.Gauge
	partitionsOwned prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendgate_verdicts_total", Help: "Verdicts committed (in the batches' transactions), by verdict and reason (re-emitted duplicates included).",
		}, []string{"verdict", "reason"}),
		ruleVerdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendgate_rule_verdicts_total", Help: "New decisions of bots with rules or exempt categories, by binding rule name and verdict (exempt ones and re-emitted duplicates not included).",
		}, []string{"rule", "verdict"}),
		wouldBlock: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendgate_shadow_would_block_total", Help: "Attempts a shadow rule would have blocked (it was at its limit), by rule name; they were decided by the enforced rules.",
		}, []string{"rule"}),
		consumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendgate_records_consumed_total", Help: "Records read from Kafka, by topic.",
		}, []string{"topic"}),
		dlq: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendgate_dlq_records_total", Help: "Records copied to the dead-letter topic, by source topic.",
		}, []string{"source_topic"}),
		forwarded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sendgate_forwarded_records_total", Help: "Attempts-topic records that sat on another partition than their key's (murmur2) and were forwarded to it.",
		}),
		transactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendgate_transactions_total", Help: "Batch transactions, by result: committed, or failed and aborted (retryable: the batch is read again; lost: the partition was fenced by another owner or the member lost its generation; fatal: the processor stops).",
		}, []string{"result"}),
		txnSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sendgate_transaction_seconds", Help: "Time of one batch's Kafka transaction, from AddPartitionsToTxn to EndTxn's answer.",
			Buckets: prometheus.ExponentialBuckets(0.00025, 2, 14),
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sendgate_duplicate_attempts_total", Help: "Attempts whose id already had a verdict; the stored verdict was re-emitted.",
		}),
		failedReleased: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendgate_failed_sends_total", Help: "Send-failed events, by result (released a slot, or unknown attempt).",
		}, []string{"result"}),
		settingsApplied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendgate_settings_events_total", Help: "Settings records, by result: applied, stale (version not newer), tombstone, invalid.",
		}, []string{"result"}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sendgate_batch_records", Help: "Records per processed attempts batch.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
		batchLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sendgate_batch_seconds", Help: "Time from a batch fetched to its transaction and local commit done (settings catch-up, decide, transaction, local commit).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		decisionDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sendgate_decision_latency_seconds", Help: "Time from an attempt's record timestamp to its verdict committed (newest record of each batch).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sendgate_consumer_lag", Help: "Records of an owned attempts partition not yet processed (last stable offset - next offset).",
		}, []string{"partition"}),
		stateKeys: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sendgate_state_keys", Help: "Keys in Pebble state by kind (history: contacts with counted sends; verdict: idempotency records) written minus deleted since start: an approximate trend, not an exact count.",
		}, []string{"kind"}),
		publishRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sendgate_publish_retries_total", Help: "Dead letters of the settings topic whose write was retried after an error (attempts batches retry as whole transactions).",
		}),
		fetchErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sendgate_fetch_errors_total", Help: "Failed fetches, by topic.",
		}, []string{"topic"}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sendgate_ready", Help: "1 when settings are caught up, the group is joined, every owned partition is restored and running, the processor is not stopping and the broker answers.",
		}),
		partitionsOwned: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sendgate_partitions_owned", Help: "Attempts partitions assigned to this instance.",
		}),
	}
	reg.MustRegister(m.verdicts, m.ruleVerdicts, m.wouldBlock, m.consumed, m.dlq, m.forwarded, m.transactions, m.txnSeconds, m.duplicates, m.failedReleased, m.settingsApplied,
		m.batchSize, m.batchLatency, m.decisionDelay, m.lag, m.stateKeys, m.publishRetries,
		m.fetchErrors, m.ready, m.partitionsOwned)
	return m
}

func partLabel(p int32) string { return strconv.Itoa(int(p)) }
