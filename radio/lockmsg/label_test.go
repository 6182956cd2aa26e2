package lockmsg

import "testing"

func TestParseLabel(t *testing.T) {
	k := Key{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	want := LockID(0xa1b2)
	for _, text := range []string{
		`{"id": "0000a1b2", "key": "0102030405060708090a0b0c0d0e0f10"}`,
		"lock-0000a1b2 01020304-05060708-090a0b0c-0d0e0f10",
		"0xa1b2:0102030405060708090a0b0c0d0e0f10",
	} {
		id, key, err := ParseLabel(text)
		if err != nil || id != want || key != k {
			t.Errorf("ParseLabel(%q) = %s, %v", text, id, err)
		}
	}
	if l := NewLabel(want, k); l.ID != "0000a1b2" || l.Key != "0102030405060708090a0b0c0d0e0f10" {
		t.Errorf("NewLabel = %+v", l)
	}
	for _, bad := range []string{"", "{}", "0000a1b2", "0 0102030405060708090a0b0c0d0e0f10", "123456789 0102030405060708090a0b0c0d0e0f10",
		"a1b2 0102", "a1b2 00000000000000000000000000000000", "zz 0102030405060708090a0b0c0d0e0f10"} {
		if _, _, err := ParseLabel(bad); err == nil {
			t.Errorf("ParseLabel(%q) accepted", bad)
		}
	}
}
