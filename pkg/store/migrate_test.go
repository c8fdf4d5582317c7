package store_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// legacyKey is the execution key layout shared by version 0 and 1.
func legacyKey(id string, attempt int) []byte {
	k := append([]byte(id), 0, 0, 0, 0)
	binary.BigEndian.PutUint32(k[len(id):], uint32(attempt))
	return k
}

// writeRaw creates a bbolt file at path with fn, bypassing the store.
func writeRaw(t *testing.T, path string, fn func(*bolt.Tx) error) {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := bdb.Close(); err != nil {
		t.Fatal(err)
	}
}

func rawVersion(t *testing.T, path string) uint64 {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	var v uint64
	_ = bdb.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte("meta")); b != nil {
			if raw := b.Get([]byte("schema_version")); len(raw) == 8 {
				v = binary.BigEndian.Uint64(raw)
			}
		}
		return nil
	})
	return v
}

func TestMigrate_0to1(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		legacy func(*bolt.Tx) error
		check  func(t *testing.T, db *store.DB)
	}{
		{
			name:   "empty file",
			legacy: func(*bolt.Tx) error { return nil },
			check: func(t *testing.T, db *store.DB) {
				if l, err := db.ListSchedules(ctx); err != nil || len(l) != 0 {
					t.Errorf("ListSchedules = %v, %v", l, err)
				}
				commit(t, db, store.Writes{Executions: []store.Execution{execution(1, 1, "s", "h", store.StatusRunning, 0)}})
			},
		},
		{
			name: "legacy buckets without indexes",
			legacy: func(tx *bolt.Tx) error {
				sb, _ := tx.CreateBucket([]byte("schedules"))
				v, _ := json.Marshal(store.Schedule{ID: "s1", HandlerID: "h1"})
				if err := sb.Put([]byte("s1"), v); err != nil {
					return err
				}
				eb, err := tx.CreateBucket([]byte("executions"))
				if err != nil {
					return err
				}
				for _, e := range []store.Execution{
					execution(1, 1, "s1", "h1", store.StatusSucceeded, 10),
					execution(2, 1, "s1", "h1", store.StatusRunning, 0),
					execution(3, 1, "s2", "h2", store.StatusFailed, 30),
				} {
					v, _ := json.Marshal(e)
					if err := eb.Put(legacyKey(e.ID, e.Attempt), v); err != nil {
						return err
					}
				}
				return nil
			},
			check: func(t *testing.T, db *store.DB) {
				if s, err := db.GetSchedule(ctx, "s1"); err != nil || s.HandlerID != "h1" {
					t.Errorf("GetSchedule = %+v, %v", s, err)
				}
				got, err := db.ListExecutions(ctx, store.ExecutionFilter{ScheduleID: "s1"})
				if want := []string{"002/1", "001/1"}; err != nil || !slices.Equal(ids(got), want) {
					t.Errorf("by schedule = %v, %v; want %v", ids(got), err, want)
				}
				got, err = db.ListExecutions(ctx, store.ExecutionFilter{HandlerID: "h2"})
				if want := []string{"003/1"}; err != nil || !slices.Equal(ids(got), want) {
					t.Errorf("by handler = %v, %v; want %v", ids(got), err, want)
				}
				got, err = db.Unfinished(ctx)
				if want := []string{"002/1"}; err != nil || !slices.Equal(ids(got), want) {
					t.Errorf("Unfinished = %v, %v; want %v", ids(got), err, want)
				}
				st, err := db.Stats(ctx)
				if err != nil || st.Total != 2 || st.AvgDurationMS != 20 || st.ByStatus[store.StatusRunning] != 1 {
					t.Errorf("Stats = %+v, %v", st, err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tempPath(t)
			writeRaw(t, path, tt.legacy)
			if v := rawVersion(t, path); v != 0 {
				t.Fatalf("legacy file at version %d", v)
			}
			db := openT(t, path, store.Options{NoSync: true})
			tt.check(t, db)
			if err := db.Check(ctx); err != nil {
				t.Error(err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if v := rawVersion(t, path); v != uint64(store.SchemaVersion()) {
				t.Errorf("schema_version = %d, want %d", v, store.SchemaVersion())
			}
			// Reopening a current file is a no-op.
			db = openT(t, path, store.Options{NoSync: true})
			tt.check(t, db)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestOpen_NewerSchema(t *testing.T) {
	path := tempPath(t)
	db := openT(t, path, store.Options{NoSync: true})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	writeRaw(t, path, func(tx *bolt.Tx) error {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(store.SchemaVersion()+1))
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), b[:])
	})
	db, err := store.Open(path, store.Options{})
	if err == nil {
		db.Close()
		t.Fatal("Open of a newer schema succeeded")
	}
	if !errors.Is(err, store.ErrNewerSchema) {
		t.Fatalf("err = %v, want ErrNewerSchema", err)
	}
	t.Log(err)
	// The file is left untouched and unlocked.
	if v := rawVersion(t, path); v != uint64(store.SchemaVersion()+1) {
		t.Errorf("schema_version = %d after failed Open", v)
	}
}

// A file of schema version 5 opens at version 6 with its executions as
// they were (6 only marks that a record may name its instance), and an
// execution with an instance written after reads back with it.
func TestMigrate_5to6(t *testing.T) {
	ctx := context.Background()
	path := tempPath(t)
	db := openT(t, path, store.Options{NoSync: true})
	before := execution(1, 1, "s", "pool", store.StatusSucceeded, 5)
	before.Note = "recovered from handler"
	commit(t, db, store.Writes{Executions: []store.Execution{before}})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	writeRaw(t, path, func(tx *bolt.Tx) error {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], 5)
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), b[:])
	})
	db = openT(t, path, store.Options{NoSync: true})
	got, err := db.GetExecution(ctx, before.ID)
	if err != nil || len(got) != 1 || got[0].Note != before.Note || got[0].Instance != "" {
		t.Fatalf("version 5 record after migration: %+v, %v", got, err)
	}
	after := execution(2, 1, "s", "pool", store.StatusRunning, 0)
	after.Instance, after.Host = "b", "127.0.0.2"
	commit(t, db, store.Writes{Executions: []store.Execution{after}})
	got, err = db.GetExecution(ctx, after.ID)
	if err != nil || len(got) != 1 || got[0].Instance != "b" || got[0].Host != "127.0.0.2" {
		t.Fatalf("record with an instance: %+v, %v", got, err)
	}
	if err := db.Check(ctx); err != nil {
		t.Error(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if v := rawVersion(t, path); v != uint64(store.SchemaVersion()) {
		t.Fatalf("schema_version = %d, want %d", v, store.SchemaVersion())
	}
}

// A file of schema version 6 (firing states in schedule_state, no
// schedule_state_log) opens at version 7 with its states as they were,
// and fires after the migration append to the new log.
func TestMigrate_6to7(t *testing.T) {
	ctx := context.Background()
	path := tempPath(t)
	db := openT(t, path, store.Options{NoSync: true})
	rec := store.Schedule{ID: "s", HandlerID: "h", Method: "m", Trigger: []byte(`{"type":"interval","seconds":1}`), NextFire: t0}
	commit(t, db, store.Writes{Schedules: []store.Schedule{rec}})
	fired := rec
	fired.NextFire, fired.LastFire, fired.FireCount = t0.Add(time.Second), t0, 1
	commit(t, db, store.Writes{ScheduleStates: []store.Schedule{fired}})
	if err := db.Close(); err != nil { // merges the state into schedule_state
		t.Fatal(err)
	}
	writeRaw(t, path, func(tx *bolt.Tx) error {
		if n := tx.Bucket([]byte("schedule_state")).Stats().KeyN; n != 1 {
			t.Errorf("schedule_state holds %d entries after Close, want 1", n)
		}
		if err := tx.DeleteBucket([]byte("schedule_state_log")); err != nil {
			return err
		}
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], 6)
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), b[:])
	})
	db = openT(t, path, store.Options{NoSync: true})
	got, err := db.GetSchedule(ctx, "s")
	if err != nil || got.FireCount != 1 || !got.NextFire.Equal(fired.NextFire) {
		t.Fatalf("version 6 state after migration: %+v, %v", got, err)
	}
	fired.FireCount, fired.NextFire = 2, t0.Add(2*time.Second)
	commit(t, db, store.Writes{ScheduleStates: []store.Schedule{fired}})
	got, err = db.GetSchedule(ctx, "s")
	if err != nil || got.FireCount != 2 || !got.NextFire.Equal(fired.NextFire) {
		t.Fatalf("state written after migration: %+v, %v", got, err)
	}
	if err := db.Check(ctx); err != nil {
		t.Error(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if v := rawVersion(t, path); v != uint64(store.SchemaVersion()) || v < 7 {
		t.Fatalf("schema_version = %d after migration, want %d", v, store.SchemaVersion())
	}
	db = openT(t, path, store.Options{NoSync: true})
	defer db.Close()
	if got, err = db.GetSchedule(ctx, "s"); err != nil || got.FireCount != 2 {
		t.Fatalf("state after a reopen: %+v, %v", got, err)
	}
}
