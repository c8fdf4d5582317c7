package schedfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// DefaultDirs is the search path of the packaged scheduler, highest
// precedence first: the administrator's files hide the packages'.
var DefaultDirs = []string{"/etc/schedulezero/schedules.d", "/usr/lib/schedulezero/schedules.d"}

// Suffix ends a schedule file's name; DropInSuffix its drop-in directory's.
const (
	Suffix       = ".schedule"
	DropInSuffix = ".schedule.d"
	maxFileSize  = 1 << 20
)

// Set is what a search path holds: the schedules its files define, and
// the files that could not be read, by schedule id.
type Set struct {
	Dirs        []string
	Definitions []*Definition     // by id
	Invalid     map[string]*Error // schedule id -> the first problem of its files
}

// CheckID reports whether id, a file's name without its suffix, is a
// schedule id: the engine's rule (store.CheckScheduleID), whose ids are
// file names everywhere.
func CheckID(id string) error {
	if err := store.CheckScheduleID(id); err != nil {
		if fe := asField(err); fe != nil {
			return fmt.Errorf("the schedule id %s; %s", fe.Problem, fe.Fix)
		}
		return err
	}
	return nil
}

// Load reads every schedule of dirs, highest precedence first. A
// directory that does not exist holds nothing; one that cannot be read
// is an error.
func Load(dirs []string) (*Set, error) {
	abs := make([]string, len(dirs))
	for i, d := range dirs {
		a, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("schedule directory %s: %w", d, err)
		}
		abs[i] = a
	}
	dirs = abs
	set := &Set{Dirs: dirs, Invalid: map[string]*Error{}}
	mains := map[string]string{}              // id -> its file, the first dir's
	dropIns := map[string]map[string]string{} // id -> drop-in name -> its file, the first dir's
	for _, dir := range dirs {
		ents, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("schedule directory %s: %w", dir, err)
		}
		for _, ent := range ents {
			name := ent.Name()
			switch {
			case strings.HasSuffix(name, Suffix):
				id := strings.TrimSuffix(name, Suffix)
				if _, seen := mains[id]; !seen {
					mains[id] = filepath.Join(dir, name)
				}
			case strings.HasSuffix(name, DropInSuffix):
				id := strings.TrimSuffix(name, DropInSuffix)
				confs, err := os.ReadDir(filepath.Join(dir, name))
				if err != nil {
					continue // not a directory, or unreadable: nothing to merge
				}
				if dropIns[id] == nil {
					dropIns[id] = map[string]string{}
				}
				for _, c := range confs {
					if !strings.HasSuffix(c.Name(), ".conf") {
						continue
					}
					if _, seen := dropIns[id][c.Name()]; !seen {
						dropIns[id][c.Name()] = filepath.Join(dir, name, c.Name())
					}
				}
			}
		}
	}
	ids := make([]string, 0, len(mains))
	for id := range mains {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		path := mains[id]
		if err := CheckID(id); err != nil {
			set.Invalid[id] = &Error{ID: id, File: path, Problem: err.Error(), Fix: "rename the file"}
			continue
		}
		masked, err := isMasked(path)
		if err != nil {
			set.Invalid[id] = &Error{ID: id, File: path, Problem: err.Error(), Fix: "make the file readable by the scheduler"}
			continue
		}
		if masked {
			continue
		}
		names := make([]string, 0, len(dropIns[id]))
		for n := range dropIns[id] {
			names = append(names, n)
		}
		sort.Strings(names)
		files := []string{path}
		for _, n := range names {
			if m, _ := isMasked(dropIns[id][n]); !m {
				files = append(files, dropIns[id][n])
			}
		}
		def, e := readDefinition(id, files)
		if e != nil {
			set.Invalid[id] = e
			continue
		}
		set.Definitions = append(set.Definitions, def)
	}
	return set, nil
}

// readDefinition reads a file and its drop-ins into one definition.
func readDefinition(id string, files []string) (*Definition, *Error) {
	var opts []option
	for _, f := range files {
		data, err := readFile(f)
		if err != nil {
			return nil, &Error{ID: id, File: f, Problem: err.Error(), Fix: "make the file readable by the scheduler"}
		}
		o, e := parseFile(f, data)
		if e != nil {
			e.ID = id
			return nil, e
		}
		opts = append(opts, o...)
	}
	return build(id, files[0], slices.Clone(files[1:]), opts)
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("is %d bytes, more than %d", st.Size(), maxFileSize)
	}
	return os.ReadFile(path)
}

// isMasked reports whether path is empty or a symlink to /dev/null, which
// hides the schedule as systemd's masking hides a unit.
func isMasked(path string) (bool, error) {
	if t, err := os.Readlink(path); err == nil && t == os.DevNull {
		return true, nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	return st.Mode().IsRegular() && st.Size() == 0, nil
}

// Owns reports whether a schedule with this source came from a file of
// the set's directories: those a reload of the set deletes once their
// file is gone.
func (s *Set) Owns(source string) bool {
	path, ok := strings.CutPrefix(source, "file:")
	if !ok {
		return false
	}
	return slices.Contains(s.Dirs, filepath.Dir(path))
}

// Errors lists the set's problems by file.
func (s *Set) Errors() []*Error {
	out := make([]*Error, 0, len(s.Invalid))
	for _, e := range s.Invalid {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out
}
