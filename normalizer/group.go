package normalizer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tickflow/tickflow/collectors"
	"github.com/tickflow/tickflow/transport"
)

// GroupTopics returns the raw topics of the given connectors: what a normalizer group member
// subscribes to.
func GroupTopics(conns []collectors.Connector) []string {
	out := make([]string, 0, len(conns))
	for _, c := range conns {
		out = append(out, transport.RawTopic(c.Name()))
	}
	sort.Strings(out)
	return out
}

// RunGroup normalizes, as a member of a consumer group (transport.BalancerWholeTopic), the
// venues whose raw topics the group assigns to this member (ADR 0009): per generation, one
// Normalizer per assigned venue, started from that venue's latest checkpoint, its checkpoint
// generations raised above every previous owner's (Config.GenFloor), and its checkpoint
// writes guarded by the assignment's lease (Config.Guard). When the generation ends each
// venue finishes its polled batch and writes a final checkpoint if the lease still holds.
// A normalizer refused by the lease (a member frozen past its session timeout) stops
// without writing and the member rejoins. RunGroup returns nil when ctx is done, and the
// first error of a venue otherwise (a failed produce: restart from the checkpoint).
//
// m must be registered once for the process; the per-generation consumers' metrics are
// registered with its registerer, replacing the previous generation's.
func RunGroup(ctx context.Context, g *transport.Group, cfg Config, conns []collectors.Connector,
	prod *transport.Producer, m *Metrics, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	// Consumers are re-created per generation under the same metric names.
	if m.reg != nil {
		shared := *m
		shared.reg = replacingRegisterer{m.reg}
		m = &shared
	}
	byTopic := make(map[string]collectors.Connector, len(conns))
	for _, c := range conns {
		byTopic[transport.RawTopic(c.Name())] = c
	}
	return g.Run(ctx, func(a *transport.Assignment) error {
		if err := a.WaitLease(); err != nil {
			return nil
		}
		var venues []collectors.Connector
		seen := map[string]bool{}
		for _, tp := range a.Partitions {
			if c, ok := byTopic[tp.Topic]; ok && !seen[tp.Topic] {
				seen[tp.Topic] = true
				venues = append(venues, c)
			}
		}
		names := make([]string, 0, len(venues))
		for _, c := range venues {
			names = append(names, c.Name())
		}
		glog := log.With("generation", a.Generation)
		glog.Info("normalizing assigned venues", "venues", strings.Join(names, ","))
		vcfg := cfg
		vcfg.Guard = a.Check
		vcfg.GenFloor = uint64(a.Generation) << 32
		var wg sync.WaitGroup
		errs := make([]error, len(venues))
		for i, c := range venues {
			n := New(vcfg, c, prod, m, glog)
			wg.Go(func() { errs[i] = n.Run(a.Context()) })
		}
		wg.Wait()
		var failed []error
		for _, err := range errs {
			switch {
			case err == nil:
			case errors.Is(err, transport.ErrLeaseExpired) || errors.Is(err, transport.ErrGenerationEnded):
				glog.Warn("venue lost to another member; stopped without writing", "err", err)
			case a.Context().Err() != nil && errors.Is(err, context.Canceled):
			default:
				failed = append(failed, err)
			}
		}
		if len(failed) > 0 {
			return fmt.Errorf("normalizer group generation %d: %w", a.Generation, errors.Join(failed...))
		}
		return nil
	})
}

// replacingRegisterer registers a collector, replacing one already registered under the
// same descriptors (a consumer of the previous generation).
type replacingRegisterer struct{ prometheus.Registerer }

func (r replacingRegisterer) Register(c prometheus.Collector) error {
	err := r.Registerer.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		r.Registerer.Unregister(are.ExistingCollector)
		return r.Registerer.Register(c)
	}
	return err
}

func (r replacingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}
