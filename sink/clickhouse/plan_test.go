package clickhouse

import (
	"reflect"
	"testing"
)

func TestDayOf(t *testing.T) {
	const day = int64(86_400_000_000_000)
	for _, c := range []struct {
		ns   int64
		want int32
	}{
		{0, 0}, {day - 1, 0}, {day, 1}, {1_767_225_600_000_000_000, 20454}, {-1, -1},
	} {
		if got := dayOf(c.ns); got != c.want {
			t.Errorf("dayOf(%d) = %d, want %d", c.ns, got, c.want)
		}
	}
}

func TestPlanInserts(t *testing.T) {
	r := func(i int32, key uint32, day int32) admitted { return admitted{i: i, key: key, day: day} }
	ids := func(plan [][]admitted) [][]int32 {
		var out [][]int32
		for _, p := range plan {
			var s []int32
			for _, a := range p {
				s = append(s, a.i)
			}
			out = append(out, s)
		}
		return out
	}
	cases := []struct {
		name string
		rows []admitted
		max  int
		want [][]int32
	}{
		{"one day", []admitted{r(0, 1, 5), r(1, 2, 5), r(2, 1, 5)}, 10, [][]int32{{0, 1, 2}}},
		{"midnight: one insert per day, ascending",
			[]admitted{r(0, 1, 5), r(1, 2, 6), r(2, 1, 6), r(3, 2, 6)}, 10, [][]int32{{0}, {1, 2, 3}}},
		{"keys on different days interleaved",
			// key 2 is a day behind key 1 (another connection's clock): still one round.
			[]admitted{r(0, 1, 6), r(1, 2, 5), r(2, 1, 6), r(3, 2, 5)}, 10, [][]int32{{1, 3}, {0, 2}}},
		{"clock stepped back over midnight: a new round",
			[]admitted{r(0, 1, 5), r(1, 1, 6), r(2, 1, 5), r(3, 1, 6)}, 10,
			[][]int32{{0}, {1}, {2}, {3}}},
		{"cut at max rows", []admitted{r(0, 1, 5), r(1, 1, 5), r(2, 1, 5), r(3, 2, 5), r(4, 2, 5)}, 2,
			[][]int32{{0, 1}, {2, 3}, {4}}},
		{"empty", nil, 10, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			plan := planInserts(c.rows, c.max)
			if got := ids(plan); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("plan %v, want %v", got, c.want)
			}
			// Every insert is one day, within max, and per key the inserts are a prefix order.
			seen := map[uint32]int32{}
			for _, p := range plan {
				if len(p) > c.max {
					t.Errorf("insert of %d rows > %d", len(p), c.max)
				}
				for _, a := range p {
					if a.day != p[0].day {
						t.Errorf("insert mixes days %d and %d", a.day, p[0].day)
					}
					if last, ok := seen[a.key]; ok && a.i < last {
						t.Errorf("key %d: row %d inserted after row %d", a.key, a.i, last)
					}
					seen[a.key] = a.i
				}
			}
		})
	}
}
