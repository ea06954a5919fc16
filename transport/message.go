package transport

// Message is one Kafka record as read by a Consumer. Key and Value are owned by the
// receiver (not reused by the consumer).
type Message struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	// Time is the record timestamp (producer time), Unix ns.
	Time int64
}

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int
}

// Offset is the next offset to read from a topic partition.
type Offset struct {
	Topic     string
	Partition int
	Next      int64
}
