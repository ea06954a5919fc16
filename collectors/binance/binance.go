package binance

import "github.com/tickflow/tickflow/collectors"

// ParserVersion is stored with every event this connector produces; bump it when the
// parser's output changes so re-normalized rows supersede old ones.
const ParserVersion = 1

// Connector is the Binance spot connector.
type Connector struct{}

var _ collectors.Connector = Connector{}

func init() { collectors.Register(Connector{}) }

// Name returns "binance".
func (Connector) Name() string { return Venue }

// ParserVersion returns the parser version.
func (Connector) ParserVersion() uint16 { return ParserVersion }

// NewSession returns the collector half.
func (Connector) NewSession(env collectors.SessionEnv) (collectors.Session, error) {
	return NewSession(env)
}

// NewParser returns the normalizer half.
func (Connector) NewParser() collectors.Parser { return NewParser() }
