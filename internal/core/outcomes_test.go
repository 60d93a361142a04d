package core

import (
	"fmt"
	"testing"
)

func putN(x *outcomes, from, n int, gen *uint64) {
	for i := from; i < from+n; i++ {
		*gen++
		id := fmt.Sprint("cmd-", i)
		x.put(id, *gen, Outcome{CommandID: id, Status: StatusApplied, Seq: *gen * 10})
	}
}

func TestOutcomes_KeepsRecentWholeAndRetiresTheRest(t *testing.T) {
	x := newOutcomes(16)
	var gen uint64
	putN(x, 0, 1000, &gen)
	if whole, retired := x.sizes(); whole != 16 || retired != 984 {
		t.Fatalf("whole %d, retired %d; want 16 and 984", whole, retired)
	}
	for i := range 1000 {
		id := fmt.Sprint("cmd-", i)
		o, whole, ok := x.at(id, gen)
		if !ok || o.CommandID != id || o.Seq != uint64(i+1)*10 {
			t.Fatalf("%s: %+v found %v", id, o, ok)
		}
		if wantWhole := i >= 984; whole != wantWhole || (whole && o.Status != StatusApplied) {
			t.Fatalf("%s: whole %v status %q", id, whole, o.Status)
		}
		if _, _, ok := x.at(id, uint64(i)); ok {
			t.Fatalf("%s found as of gen %d, before its put", id, i)
		}
	}
	if _, _, ok := x.at("cmd-never", gen); ok {
		t.Fatal("an id never put is found")
	}
}

func TestOutcomes_ChangedOrUnauditedStayWhole(t *testing.T) {
	x := newOutcomes(4)
	var gen uint64
	gen++
	x.put("challenged", gen, Outcome{CommandID: "challenged", Status: StatusChallenged, Seq: 1})
	gen++
	x.put("unaudited", gen, Outcome{CommandID: "unaudited", Status: StatusApplied})
	putN(x, 0, 2, &gen)
	gen++
	x.put("challenged", gen, Outcome{CommandID: "challenged", Status: StatusApplied, Seq: 99})
	putN(x, 2, 2, &gen) // the first put of "challenged" is retired now: it changed since
	if o, whole, _ := x.at("challenged", gen); !whole || o.Status != StatusApplied {
		t.Fatalf("changed outcome: whole %v, %+v", whole, o)
	}
	if o, whole, _ := x.at("challenged", 1); !whole || o.Status != StatusChallenged {
		t.Fatalf("older version lost while recent: whole %v, %+v", whole, o)
	}
	putN(x, 4, 10, &gen)
	if o, whole, ok := x.at("challenged", gen); !ok || whole || o.Seq != 99 {
		t.Fatalf("latest version retired: whole %v ok %v, %+v", whole, ok, o)
	}
	if o, whole, ok := x.at("unaudited", gen); !ok || !whole || o.Status != StatusApplied {
		t.Fatalf("unaudited outcome: whole %v ok %v, %+v", whole, ok, o)
	}
}

func TestOutcomes_HashCollisionKeepsTheSecondWhole(t *testing.T) {
	x := newOutcomes(1)
	x.hash = func(id string) (uint64, uint64) { return 7, uint64(id[0]) } // every key collides
	for i, id := range []string{"a", "bb", "c", "x", "a", "y"} {
		x.put(id, uint64(i+1), Outcome{CommandID: id, Seq: uint64(i + 1)})
	}
	// a was retired (seq 1), then put again (seq 5) and retired again over
	// its own entry; bb, c and x collided with it and stayed whole.
	for _, c := range []struct {
		id    string
		whole bool
		seq   uint64
	}{{"a", false, 5}, {"bb", true, 2}, {"c", true, 3}, {"x", true, 4}, {"y", true, 6}} {
		if o, whole, ok := x.at(c.id, 6); !ok || whole != c.whole || o.Seq != c.seq {
			t.Errorf("%s: whole %v ok %v %+v; want whole %v seq %d", c.id, whole, ok, o, c.whole, c.seq)
		}
	}
	if _, _, ok := x.at("dd", 6); ok {
		t.Fatal("an id that collides on the key only is found")
	}
}
