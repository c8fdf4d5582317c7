package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/store/storetest"
)

func TestDB_CreateSchedule(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		s       store.Schedule
		replace bool
		wantErr error
		wantFE  string // field of the *field.Error expected
		want    string // HandlerID stored afterwards
	}{
		{name: "new", s: store.Schedule{ID: "new", HandlerID: "h2"}, want: "h2"},
		{name: "exists", s: store.Schedule{ID: "old", HandlerID: "h2"}, wantErr: store.ErrExists, want: "h1"},
		{name: "replace", s: store.Schedule{ID: "old", HandlerID: "h2"}, replace: true, want: "h2"},
		{name: "replace missing", s: store.Schedule{ID: "other", HandlerID: "h2"}, replace: true, want: "h2"},
		{name: "empty id", s: store.Schedule{HandlerID: "h2"}, wantFE: "id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := storetest.New(t)
			if err := db.CreateSchedule(ctx, store.Schedule{ID: "old", HandlerID: "h1"}, false); err != nil {
				t.Fatal(err)
			}
			err := db.CreateSchedule(ctx, tt.s, tt.replace)
			if tt.wantFE != "" {
				var fe *field.Error
				if !errors.As(err, &fe) || fe.Field != tt.wantFE {
					t.Fatalf("err = %v, want *field.Error on %q", err, tt.wantFE)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			got, err := db.GetSchedule(ctx, tt.s.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.HandlerID != tt.want {
				t.Errorf("HandlerID = %q, want %q", got.HandlerID, tt.want)
			}
		})
	}
}

func TestDB_GetSchedule_RoundTrip(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	want := store.Schedule{
		ID: "s", HandlerID: "h", Method: "m", Params: json.RawMessage(`{"a":1}`),
		Trigger: json.RawMessage(`{"type":"interval","seconds":5}`), Timezone: "UTC",
		MaxAttempts: 3, Timeout: 5e9, NextFire: t0, LastFire: t0.Add(-5e9), FireCount: 7,
		CreatedAt: t0, UpdatedAt: t0,
	}
	if err := db.CreateSchedule(ctx, want, false); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetSchedule(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Errorf("got %s\nwant %s", gj, wj)
	}
	if _, err := db.GetSchedule(ctx, "missing"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetSchedule(missing) = %v, want ErrNotFound", err)
	}
}

func TestDB_ListSchedules(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	got, err := db.ListSchedules(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("empty store: %v, %v", got, err)
	}
	for _, id := range []string{"c", "a", "b"} {
		if err := db.CreateSchedule(ctx, store.Schedule{ID: id}, false); err != nil {
			t.Fatal(err)
		}
	}
	got, err = db.ListSchedules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var gotIDs []string
	for _, s := range got {
		gotIDs = append(gotIDs, s.ID)
	}
	if want := []string{"a", "b", "c"}; !slices.Equal(gotIDs, want) {
		t.Errorf("ids = %v, want %v", gotIDs, want)
	}
}

func TestDB_UpdateSchedule(t *testing.T) {
	ctx := context.Background()
	errBoom := errors.New("boom")
	tests := []struct {
		name      string
		id        string
		fn        func(*store.Schedule) error
		wantErr   error
		wantCount int64 // FireCount stored afterwards in "s"
	}{
		{name: "update", id: "s", fn: func(s *store.Schedule) error { s.FireCount++; return nil }, wantCount: 2},
		{name: "not found", id: "x", fn: func(*store.Schedule) error { return nil }, wantErr: store.ErrNotFound, wantCount: 1},
		{name: "fn error aborts", id: "s", fn: func(s *store.Schedule) error { s.FireCount = 99; return errBoom }, wantErr: errBoom, wantCount: 1},
		{name: "id change refused", id: "s", fn: func(s *store.Schedule) error { s.ID = "t"; s.FireCount = 99; return nil }, wantErr: errAny, wantCount: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := storetest.New(t)
			if err := db.CreateSchedule(ctx, store.Schedule{ID: "s", FireCount: 1}, false); err != nil {
				t.Fatal(err)
			}
			got, err := db.UpdateSchedule(ctx, tt.id, tt.fn)
			switch {
			case errors.Is(tt.wantErr, errAny) && err == nil:
				t.Fatal("err = nil, want an error")
			case !errors.Is(tt.wantErr, errAny) && !errors.Is(err, tt.wantErr):
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			case err == nil && got.FireCount != tt.wantCount:
				t.Errorf("returned FireCount = %d, want %d", got.FireCount, tt.wantCount)
			}
			s, err := db.GetSchedule(ctx, "s")
			if err != nil {
				t.Fatal(err)
			}
			if s.FireCount != tt.wantCount {
				t.Errorf("stored FireCount = %d, want %d", s.FireCount, tt.wantCount)
			}
		})
	}
}

var errAny = errors.New("any error")

func TestDB_DeleteSchedule(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	if err := db.CreateSchedule(ctx, store.Schedule{ID: "s"}, false); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		id      string
		wantErr error
	}{
		{"existing", "s", nil},
		{"again", "s", store.ErrNotFound},
		{"never existed", "x", store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := db.DeleteSchedule(ctx, tt.id); !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if _, err := db.GetSchedule(ctx, tt.id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetSchedule after delete = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestDB_Handlers(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	h := store.Handler{ID: "h1", Address: "tcp://127.0.0.1:5000", Methods: []string{"a", "b"}, Status: "online", Protocol: 2, Concurrency: 4, FirstSeen: t0, LastSeen: t0}
	steps := []struct {
		name    string
		do      func() error
		wantErr error
	}{
		{"get missing", func() error { _, err := db.GetHandler(ctx, "h1"); return err }, store.ErrNotFound},
		{"delete missing", func() error { return db.DeleteHandler(ctx, "h1") }, store.ErrNotFound},
		{"put", func() error { return db.PutHandler(ctx, h) }, nil},
		{"put second", func() error { return db.PutHandler(ctx, store.Handler{ID: "h0", Status: "offline"}) }, nil},
		{"get", func() error {
			got, err := db.GetHandler(ctx, "h1")
			if err == nil && (got.Address != h.Address || !slices.Equal(got.Methods, h.Methods) || !got.LastSeen.Equal(t0) || got.Concurrency != 4) {
				return errors.New("round trip mismatch")
			}
			return err
		}, nil},
		{"put replaces", func() error { h.Status = "offline"; return db.PutHandler(ctx, h) }, nil},
		{"list by id", func() error {
			got, err := db.ListHandlers(ctx)
			if err == nil && (len(got) != 2 || got[0].ID != "h0" || got[1].ID != "h1" || got[1].Status != "offline") {
				return errors.New("list mismatch")
			}
			return err
		}, nil},
		{"put empty id", func() error {
			var fe *field.Error
			if err := db.PutHandler(ctx, store.Handler{}); !errors.As(err, &fe) {
				return errors.New("want *field.Error")
			}
			return nil
		}, nil},
		{"delete", func() error { return db.DeleteHandler(ctx, "h1") }, nil},
		{"get deleted", func() error { _, err := db.GetHandler(ctx, "h1"); return err }, store.ErrNotFound},
	}
	for _, s := range steps {
		if err := s.do(); !errors.Is(err, s.wantErr) {
			t.Fatalf("%s: err = %v, want %v", s.name, err, s.wantErr)
		}
	}
}
