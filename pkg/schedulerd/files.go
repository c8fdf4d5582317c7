package schedulerd

import (
	"context"
	"errors"
	"time"

	"github.com/schedulezero/schedulezero/pkg/schedfile"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// applyFiles reads the schedule files of Options.ScheduleDirs and applies
// them to the engine: what a start and every reload do. A bad file is
// logged and kept out, and the schedule it described keeps its last good
// definition; the summary goes to STATUS=.
//
// A file whose handler has not registered yet (at boot, handlers start
// after the scheduler) is applied again at each status tick until it
// registers; the journal hears of it again only when the summary changes.
func (d *Daemon) applyFiles(ctx context.Context) {
	if len(d.opts.ScheduleDirs) == 0 {
		return
	}
	d.applyMu.Lock()
	defer d.applyMu.Unlock()
	log := d.logger.With("component", "schedule-files")
	set, err := schedfile.Load(d.opts.ScheduleDirs)
	if err != nil {
		log.Error("schedule files not read; schedules stay as they are", "dirs", d.opts.ScheduleDirs, "err", err)
		d.setFilesStatus("schedule files not read: " + err.Error())
		return
	}
	current, err := d.engine.ListSchedules(ctx)
	if err != nil {
		log.Error("schedule files not applied", "err", err)
		return
	}
	loc := d.opts.Location
	if loc == nil {
		loc = time.Local
	}
	plan := schedfile.MakePlan(set, current, loc)
	res := schedfile.Apply(ctx, d.engine, plan)
	summary := schedfile.Summary(plan, res)
	d.filesRetry = false
	for _, e := range res.Failed {
		if errors.Is(e, store.ErrNotFound) {
			d.filesRetry = true
		}
	}
	if summary == d.FilesStatus() && len(plan.Steps) == len(res.Failed) {
		return // a retry that changed nothing: said already
	}
	for _, st := range plan.Steps {
		log.Debug("schedule file step", "kind", st.Kind, "schedule_id", st.ID)
	}
	for _, e := range append(plan.Invalid, res.Failed...) {
		log.Warn("schedule file invalid; the schedule keeps its last good definition",
			"schedule_id", e.ID, "file", e.File, "line", e.Line, "key", e.Key, "problem", e.Problem, "fix", e.Fix)
	}
	log.Info("schedule files applied", "summary", summary, "dirs", set.Dirs,
		"created", res.Created, "changed", res.Changed, "deleted", res.Deleted,
		"invalid", len(plan.Invalid)+len(res.Failed))
	if plan.Files == 0 && res.Deleted == 0 {
		summary = "" // no files: STATUS= stays the engine's
	}
	d.setFilesStatus(summary)
}

func (d *Daemon) setFilesStatus(s string) {
	d.filesMu.Lock()
	d.filesStatus = s
	d.filesMu.Unlock()
}

// FilesStatus is the summary of the last application of the schedule
// files, empty when there are no schedule directories.
func (d *Daemon) FilesStatus() string {
	d.filesMu.Lock()
	defer d.filesMu.Unlock()
	return d.filesStatus
}

// statusLine is STATUS=: the engine's summary and the files'.
func (d *Daemon) statusLine() string {
	s := d.engine.Summary()
	if f := d.FilesStatus(); f != "" {
		s += "; " + f
	}
	return s
}

// retryFiles applies the files again when a handler they name had not
// registered.
func (d *Daemon) retryFiles(ctx context.Context) {
	d.applyMu.Lock()
	retry := d.filesRetry
	d.applyMu.Unlock()
	if retry {
		d.applyFiles(ctx)
	}
}
