package transport

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// EmbeddedConfig configures the embedded broker.
type EmbeddedConfig struct {
	// DataDir persists topics and offsets across restarts (required).
	DataDir string
	// Addr is the loopback host:port to listen on (default "127.0.0.1:0", a free port).
	// kfake always binds 127.0.0.1; only the port is taken from Addr.
	Addr string
	// SyncWrites fsyncs every batch: survives power loss, at a large throughput cost. Without
	// it, data survives a SIGKILL of tickflow (page cache) but not a machine crash.
	SyncWrites bool
	// RetentionInterval is how often retention is applied (default 1m).
	RetentionInterval time.Duration
	// MaxMessageBytes is the broker's message.max.bytes (default 16 MiB).
	MaxMessageBytes int
}

// Embedded is an in-process Kafka-protocol broker (kfake) on loopback.
type Embedded struct {
	c    *kfake.Cluster
	log  *slog.Logger
	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// StartEmbedded starts the embedded broker, reloading DataDir if it holds state.
func StartEmbedded(cfg EmbeddedConfig, log *slog.Logger) (*Embedded, error) {
	if cfg.DataDir == "" {
		return nil, fmt.Errorf("transport: embedded broker needs a data dir (--data-dir)")
	}
	if log == nil {
		log = slog.Default()
	}
	if cfg.RetentionInterval <= 0 {
		cfg.RetentionInterval = time.Minute
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 16 << 20
	}
	port := 0
	if cfg.Addr != "" {
		host, p, err := net.SplitHostPort(cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("transport: embedded broker address %q: %w (want 127.0.0.1:PORT)", cfg.Addr, err)
		}
		if host != "" && host != "127.0.0.1" && host != "localhost" {
			return nil, fmt.Errorf("transport: embedded broker listens on loopback only; got host %q (use 127.0.0.1:PORT)", host)
		}
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("transport: embedded broker port %q: %w", p, err)
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("transport: create broker data dir: %w", err)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.DataDir(cfg.DataDir),
		kfake.ClusterID("tickflow-embedded"),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(cfg.MaxMessageBytes)}),
	}
	if cfg.SyncWrites {
		opts = append(opts, kfake.SyncWrites())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("transport: start embedded broker: %w", err)
	}
	e := &Embedded{c: c, log: log, stop: make(chan struct{})}
	e.wg.Add(1)
	go e.retentionLoop(cfg.RetentionInterval)
	return e, nil
}

// retentionLoop applies retention and compaction itself: kfake's cleaner ticker is not
// re-armed after a data dir reload, so without this the disk would grow forever.
func (e *Embedded) retentionLoop(every time.Duration) {
	defer e.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			e.c.ApplyRetention()
			e.c.Compact()
		}
	}
}

// ApplyRetention enforces retention now.
func (e *Embedded) ApplyRetention() { e.c.ApplyRetention() }

// Addr returns the broker's host:port.
func (e *Embedded) Addr() string { return e.c.ListenAddrs()[0] }

// Close stops the broker, persisting its state.
func (e *Embedded) Close() {
	e.once.Do(func() {
		close(e.stop)
		e.wg.Wait()
		e.c.Close()
	})
}
