package transport

// Topic names (ADR 0002).
const (
	TopicTrades                = "tickflow.md.trades"
	TopicBooks                 = "tickflow.md.books"
	TopicBBO                   = "tickflow.md.bbo"
	TopicIntegrity             = "tickflow.md.integrity"
	TopicDeadLetter            = "tickflow.md.deadletter"
	TopicBookCheckpoints       = "tickflow.md.books.checkpoints"
	TopicNormalizerCheckpoints = "tickflow.normalizer.checkpoints"
)

// RawTopic returns the raw topic of a venue: "tickflow.raw.<venue>".
func RawTopic(venue string) string { return "tickflow.raw." + venue }

// ControlTopic returns the control (resync request) topic of a venue.
func ControlTopic(venue string) string { return "tickflow.control." + venue }
