package binancesim

import (
	"math/rand/v2"
	"time"
)

// faultAction is what happens to one outgoing market-data frame.
type faultAction uint8

const (
	faultNone faultAction = iota
	faultDrop
	faultDuplicate
	faultMalformed
	faultGap     // diff depth only: the event is skipped
	faultReorder // diff depth only: swapped with the next event of its stream
)

// faultInjector decides per-frame faults for one connection. It is owned
// by that connection's writer goroutine.
type faultInjector struct {
	cfg          Faults
	rng          *rand.Rand
	enabled      bool // trade frame faults
	depthEnabled bool // order-book frame faults
}

func newFaultInjector(cfg Faults, seed int64, connID uint64) *faultInjector {
	return &faultInjector{
		cfg:     cfg,
		rng:     rand.New(rand.NewPCG(uint64(seed)^0xfa17, connID)),
		enabled: cfg.DropRate > 0 || cfg.DuplicateRate > 0 || cfg.MalformedRate > 0,
		depthEnabled: cfg.DepthGapRate > 0 || cfg.DepthDropRate > 0 || cfg.DepthDuplicateRate > 0 ||
			cfg.DepthReorderRate > 0 || cfg.MalformedRate > 0,
	}
}

// decide draws the fault for the next frame.
func (f *faultInjector) decide() faultAction {
	if !f.enabled {
		return faultNone
	}
	r := f.rng.Float64()
	switch {
	case r < f.cfg.DropRate:
		return faultDrop
	case r < f.cfg.DropRate+f.cfg.DuplicateRate:
		return faultDuplicate
	case r < f.cfg.DropRate+f.cfg.DuplicateRate+f.cfg.MalformedRate:
		return faultMalformed
	}
	return faultNone
}

// decideDepth draws the fault for the next order-book frame; gaps and
// reorders apply to diff depth events (diff) only.
func (f *faultInjector) decideDepth(diff bool) faultAction {
	if !f.depthEnabled {
		return faultNone
	}
	r := f.rng.Float64()
	c := &f.cfg
	acc := 0.0
	if diff {
		if acc += c.DepthGapRate; r < acc {
			return faultGap
		}
	}
	if acc += c.DepthDropRate; r < acc {
		return faultDrop
	}
	if acc += c.DepthDuplicateRate; r < acc {
		return faultDuplicate
	}
	if diff {
		if acc += c.DepthReorderRate; r < acc {
			return faultReorder
		}
	}
	if acc += c.MalformedRate; r < acc {
		return faultMalformed
	}
	return faultNone
}

// malform returns a garbled version of payload: a strict prefix of it
// (cut somewhere inside the object), so it is not valid JSON and the
// event it carried is lost. It shares payload's bytes.
func (f *faultInjector) malform(payload []byte) []byte {
	if len(payload) < 3 {
		return payload[:0]
	}
	return payload[:1+f.rng.IntN(len(payload)-2)]
}

// jitter returns d scaled uniformly into [0.5d, 1.5d]; 0 stays 0.
func (f *faultInjector) jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + time.Duration(f.rng.Int64N(int64(d)+1))
}

// cleanClose decides whether a fault disconnect sends close 1000.
func (f *faultInjector) cleanClose() bool {
	return f.rng.Float64() < f.cfg.CleanCloseRatio
}
