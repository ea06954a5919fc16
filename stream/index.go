package stream

import (
	"hash/maphash"
	"sync"
)

// numShards is the number of subscription index shards (centrifuge uses 64 too). Publishing
// read-locks at most four shards per event; subscribing write-locks one per channel.
const numShards = 64

// index maps channel patterns to the connections subscribed to them, sharded by pattern.
// Lock order: shard.mu before conn.mu (the publisher enqueues while holding a shard read
// lock); never two shards at once.
type index struct {
	seed   maphash.Seed
	shards [numShards]shard
}

type shard struct {
	mu   sync.RWMutex
	subs map[Channel]map[*conn]struct{}
}

func newIndex() *index {
	ix := &index{seed: maphash.MakeSeed()}
	for i := range ix.shards {
		ix.shards[i].subs = make(map[Channel]map[*conn]struct{})
	}
	return ix
}

func (ix *index) shardFor(c Channel) *shard {
	h := maphash.String(ix.seed, c.Venue)
	h = h*0x9E3779B97F4A7C15 ^ maphash.String(ix.seed, c.Symbol)
	h ^= uint64(c.Kind) | uint64(c.Depth)<<8
	return &ix.shards[h%numShards]
}

// add subscribes c to pattern ch.
func (ix *index) add(ch Channel, c *conn) {
	sh := ix.shardFor(ch)
	sh.mu.Lock()
	set := sh.subs[ch]
	if set == nil {
		set = make(map[*conn]struct{})
		sh.subs[ch] = set
	}
	set[c] = struct{}{}
	sh.mu.Unlock()
}

// remove unsubscribes c from pattern ch. After it returns no publisher holds c as a
// subscriber of ch (the shard write lock waits for in-flight fan-outs).
func (ix *index) remove(ch Channel, c *conn) {
	sh := ix.shardFor(ch)
	sh.mu.Lock()
	if set := sh.subs[ch]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(sh.subs, ch)
		}
	}
	sh.mu.Unlock()
}

// count returns the number of (pattern, connection) subscriptions, for the metrics gauge.
func (ix *index) count() int {
	n := 0
	for i := range ix.shards {
		sh := &ix.shards[i]
		sh.mu.RLock()
		for _, set := range sh.subs {
			n += len(set)
		}
		sh.mu.RUnlock()
	}
	return n
}
