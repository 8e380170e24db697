package pipeline

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestPlanResume runs testdata/resume: where a newly assigned partition
// resumes, for every combination of local state, group offset and
// changelog that matters.
func TestPlanResume(t *testing.T) {
	runData(t, "testdata/resume", map[string]dataCmd{
		"plan": func(t *testing.T, td *datadriven.TestData) string {
			var in resumeInput
			for _, arg := range td.CmdArgs {
				v := arg.Vals[0]
				switch arg.Key {
				case "local":
					if v != "none" {
						o, c, ok := strings.Cut(v, "@")
						if !ok {
							td.Fatalf(t, "local=%s: want O@C", v)
						}
						in.Local, in.LocalOffset, in.LocalChangelog = true, atoi(t, td, o), atoi(t, td, c)
					}
				case "group":
					in.Group = -1
					if v != "none" {
						in.Group = atoi(t, td, v)
					}
				case "changelog":
					s, e, ok := strings.Cut(v, "..")
					if !ok {
						td.Fatalf(t, "changelog=%s: want S..E", v)
					}
					in.ChangelogStart, in.ChangelogEnd = atoi(t, td, s), atoi(t, td, e)
				default:
					td.Fatalf(t, "unknown argument %s", arg.Key)
				}
			}
			p := planResume(in)
			switch p.Action {
			case catchUp, restoreWhole:
				return fmt.Sprintf("%s from %d: %s\n", p.Action, p.From, p.Why)
			}
			return fmt.Sprintf("%s: %s\n", p.Action, p.Why)
		},
		"publish": func(t *testing.T, td *datadriven.TestData) string {
			var off, group int64
			td.ScanArgs(t, "offset", &off)
			td.ScanArgs(t, "group", &group)
			return fmt.Sprintf("%d\n", publishFrom(off, group))
		},
	})
}
