package badgerstore_test

import (
	"bytes"
	"testing"

	"github.com/doorhub/doorhub/hub/badgerstore"
)

func TestValuesSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := badgerstore.Open(dir, badgerstore.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.Value("radio/x"); v != nil || err != nil {
		t.Fatalf("absent value: %q %v", v, err)
	}
	for k, v := range map[string]string{"radio/a": "1", "radio/b": "2", "other/c": "3"} {
		if err := s.SetValue(k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteValue("radio/b"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetValue("", nil); err == nil {
		t.Error("empty key accepted")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = badgerstore.Open(dir, badgerstore.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Values("radio/")
	if err != nil || len(got) != 1 || !bytes.Equal(got["radio/a"], []byte("1")) {
		t.Fatalf("Values = %q, %v", got, err)
	}
	if s.Version() != 0 {
		t.Fatal("values moved the set's version")
	}
}
