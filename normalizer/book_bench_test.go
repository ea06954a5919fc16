package normalizer

import (
	"testing"

	"github.com/tickflow/tickflow/md"
)

// BenchmarkBookApply measures applying a diff of 10 bid and 10 ask levels (half updates,
// a quarter inserts, a quarter deletes) to a sorted-slice book of 1000 levels per side.
//
//	go test -run '^$' -bench BookApply -count 5 ./normalizer/
func BenchmarkBookApply(b *testing.B) {
	bk := &book{Bids: side{Bid: true}, PxScale: 2, QtyScale: 3}
	for i := int64(0); i < 1000; i++ {
		bk.Bids.set(100000-2*i, 1)
		bk.Asks.set(100002+2*i, 1)
	}
	mk := func(base, dir int64) []md.Level {
		ls := make([]md.Level, 10)
		for i := range ls {
			px, qty := base+dir*int64(i*3), int64(5)
			switch i % 4 {
			case 1:
				px++ // between existing levels: insert
			case 3:
				qty = 0 // delete
			}
			ls[i] = md.Level{Price: md.Decimal{Mant: px, Scale: 2}, Qty: md.Decimal{Mant: qty, Scale: 3}}
		}
		return ls
	}
	bids, asks := mk(100000, -2), mk(100002, 2)
	restoreB, restoreA := mk(100000, -2), mk(100002, 2)
	for i := range restoreB { // the inverse diff puts the book back, so every op is the same
		restoreB[i].Qty.Mant, restoreA[i].Qty.Mant = 1, 1
		if i%4 == 1 {
			restoreB[i].Qty.Mant, restoreA[i].Qty.Mant = 0, 0
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		bk.applyLevels(&bk.Bids, bids)
		bk.applyLevels(&bk.Asks, asks)
		bk.applyLevels(&bk.Bids, restoreB)
		bk.applyLevels(&bk.Asks, restoreA)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N), "ns/diff")
}
