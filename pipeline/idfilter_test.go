package pipeline

import (
	"fmt"
	"testing"
)

func TestIDFilterNoFalseNegatives(t *testing.T) {
	f := newIDFilter(50_000)
	for i := range 50_000 {
		f.add(fmt.Sprintf("att-%d", i))
	}
	for i := range 50_000 {
		if !f.mayContain(fmt.Sprintf("att-%d", i)) {
			t.Fatalf("att-%d added but not contained", i)
		}
	}
	fp := 0
	for i := range 100_000 {
		if f.mayContain(fmt.Sprintf("new-%d", i)) {
			fp++
		}
	}
	if rate := float64(fp) / 100_000; rate > 0.02 {
		t.Fatalf("false-positive rate %.4f, want about 0.01", rate)
	}
	if f.full() {
		t.Fatal("full at capacity")
	}
	f.add("one more")
	if !f.full() {
		t.Fatal("not full past capacity")
	}
}
