package repository

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"lethe/agent/repository/restictest"
	"lethe/backends"
	"lethe/backends/local"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPoly1305AESKnownAnswer uses the test vectors of the Poly1305-AES
// paper, which restic's MAC construction follows.
func TestPoly1305AESKnownAnswer(t *testing.T) {
	vectors := []struct{ k, r, nonce, msg, mac string }{
		{"ec074c835580741701425b623235add6", "851fc40c3467ac0be05cc20404f3f700", "fb447350c4e868c52ac3275cf9d4327e", "f3f6", "f4c633c3044fc145f84f335cb81953de"},
		{"75deaa25c09f208e1dc4ce6b5cad3fbf", "a0f3080000f46400d0c7e9076c834403", "61ee09218d29b0aaed7e154a2c5509cc", "", "dd3fab2251f11ac759f0887129cc2ee7"},
	}
	for i, v := range vectors {
		key, err := newCryptoKey(make([]byte, 32), unhex(t, v.k), unhex(t, v.r))
		if err != nil {
			t.Fatal(err)
		}
		got := key.mac(unhex(t, v.nonce), unhex(t, v.msg))
		if hex.EncodeToString(got[:]) != v.mac {
			t.Errorf("vector %d: MAC %x, want %s", i, got, v.mac)
		}
	}
}

// TestAESCTRKnownAnswer: NIST SP 800-38A F.5.5 (CTR-AES256), through Open.
func TestAESCTRKnownAnswer(t *testing.T) {
	key, err := newCryptoKey(unhex(t, "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"), make([]byte, 16), make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	iv := unhex(t, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
	ct := unhex(t, "601ec313775789a5b7a7f504bbf3d228")
	tag := key.mac(iv, ct)
	msg := append(append(append([]byte{}, iv...), ct...), tag[:]...)
	plain, err := key.Open(nil, msg)
	if err != nil {
		t.Fatal(err)
	}
	if hex.EncodeToString(plain) != "6bc1bee22e409f96e93d7e117393172a" {
		t.Fatalf("plaintext %x", plain)
	}
}

func TestSealOpen(t *testing.T) {
	key, err := newRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 15, 16, 17, 1000, 1 << 20} {
		data := randomData(uint64(n), n, false)
		ct := key.Seal(nil, data)
		if len(ct) != n+overhead {
			t.Fatalf("ciphertext length %d for %d bytes", len(ct), n)
		}
		plain, err := key.Open(nil, ct)
		if err != nil || !bytes.Equal(plain, data) {
			t.Fatalf("roundtrip of %d bytes: %v", n, err)
		}
		// In place.
		cp := append([]byte(nil), ct...)
		plain, err = key.Open(cp[ivSize:ivSize], cp)
		if err != nil || !bytes.Equal(plain, data) {
			t.Fatalf("in-place roundtrip of %d bytes: %v", n, err)
		}
		// Any flipped bit is detected.
		for _, pos := range []int{0, ivSize, len(ct) - 1} {
			if pos >= len(ct) {
				continue
			}
			bad := append([]byte(nil), ct...)
			bad[pos] ^= 0x40
			if _, err := key.Open(nil, bad); !errors.Is(err, errUnauthenticated) {
				t.Fatalf("tampered byte %d of %d: %v", pos, len(ct), err)
			}
		}
	}
	other, _ := newRandomKey()
	if _, err := other.Open(nil, key.Seal(nil, []byte("x"))); !errors.Is(err, errUnauthenticated) {
		t.Fatalf("wrong key opened ciphertext: %v", err)
	}
	if _, err := key.Open(nil, []byte("short")); err == nil {
		t.Fatal("short ciphertext accepted")
	}
	// Master key JSON roundtrip.
	buf, _ := key.MarshalJSON()
	k2, err := unmarshalKey(buf)
	if err != nil || k2.encrypt != key.encrypt || k2.macK != key.macK || k2.macR != key.macR {
		t.Fatalf("key JSON roundtrip: %v", err)
	}
}

func TestPackHeaderRoundtrip(t *testing.T) {
	key, _ := newRandomKey()
	p, err := newPacker(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer p.discard()
	var want []PackedBlob
	off := 0
	for i := 0; i < 50; i++ {
		data := randomData(uint64(i), 100+i*37, false)
		h := BlobHandle{ID: Hash(data), Type: BlobType(1 + i%2)}
		ulen := uint(0)
		if i%3 == 0 {
			ulen = uint(len(data) * 2)
		}
		ct := key.Seal(nil, data)
		want = append(want, PackedBlob{BlobHandle: h, Offset: uint(off), Length: uint(len(ct)), UncompressedLength: ulen})
		off += len(ct)
		if err := p.add(h, ct, ulen); err != nil {
			t.Fatal(err)
		}
	}
	id, size, err := p.finish(key)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, size)
	if _, err := p.f.ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	if id != Hash(buf) || int64(len(buf)) != PackSize(want) {
		t.Fatalf("pack ID or size wrong: %d bytes, PackSize %d", len(buf), PackSize(want))
	}
	r := &Repository{key: key}
	got, err := r.parsePackTail(id, buf, int64(len(buf)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		want[i].PackID = id
		if got[i] != want[i] {
			t.Fatalf("entry %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	// A truncated pack is rejected.
	if _, err := r.parsePackTail(id, buf[:len(buf)-1], int64(len(buf)-1)); err == nil {
		t.Fatal("truncated pack accepted")
	}
}

func TestIndexJSON(t *testing.T) {
	var pid, bid ID
	pid[0], bid[0] = 1, 2
	x := &indexJSON{Supersedes: IDs{pid}, Packs: []indexPack{{ID: jsonID(pid), Blobs: []indexBlob{
		{ID: jsonID(bid), Type: DataBlob, Offset: 0, Length: 100, UncompressedLength: 300},
		{ID: jsonID(pid), Type: TreeBlob, Offset: 100, Length: 50},
	}}}}
	buf, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(buf), "uncompressed_length") != 1 {
		t.Fatalf("uncompressed_length must be omitted for uncompressed blobs: %s", buf)
	}
	y, err := decodeIndex(buf)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(y)
	if !bytes.Equal(buf, b2) {
		t.Fatalf("roundtrip differs:\n%s\n%s", buf, b2)
	}
	// restic's old format: a bare array of packs.
	old := fmt.Sprintf(`[{"id":"%s","blobs":[{"id":"%s","type":"data","offset":0,"length":100}]}]`, pid, bid)
	z, err := decodeIndex([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	if len(z.Packs) != 1 || ID(z.Packs[0].Blobs[0].ID) != bid || len(z.Supersedes) != 0 {
		t.Fatalf("old format decoded as %+v", z)
	}
	for _, bad := range []string{`{"packs":[{"id":"zz"}]}`, `{"packs":[{"id":"` + pid.String() + `","blobs":[{"type":"x"}]}]}`, `nope`, ``} {
		if _, err := decodeIndex([]byte(bad)); err == nil {
			t.Errorf("bad index %q accepted", bad)
		}
	}
}

// TestSaveLoadConcurrent saves blobs from many goroutines (dedup across
// them), reopens the repository and loads them all back.
func TestSaveLoadConcurrent(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t, Options{PackSize: 64 << 10})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				data := randomData(uint64(i), 3000+i*100, i%2 == 0)
				if _, _, _, err := r.SaveBlob(ctx, DataBlob, data, ID{}, false); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r2 := openTestRepo(t, dir)
	if n := r2.IndexedBlobs(); n != 40 {
		t.Fatalf("%d blobs indexed, want 40 (deduplicated)", n)
	}
	for i := 0; i < 40; i++ {
		data := randomData(uint64(i), 3000+i*100, i%2 == 0)
		got, err := r2.LoadBlob(ctx, DataBlob, Hash(data), make([]byte, 10))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("blob %d: %v", i, err)
		}
	}
	_, known, _, err := r2.SaveBlob(ctx, DataBlob, randomData(0, 3000, true), ID{}, false)
	if err != nil || !known {
		t.Fatalf("known blob saved again: %v", err)
	}
	res, err := r2.Check(ctx, CheckOptions{ReadData: true})
	if err != nil || !res.OK() {
		t.Fatalf("check: %v %v", err, res.Errors)
	}
}

// TestCorruptPack: a flipped byte and a truncated pack each give an error
// naming the pack, from LoadBlob and from Check.
func TestCorruptPack(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{"flip", "truncate"} {
		t.Run(mode, func(t *testing.T) {
			r, dir := newTestRepo(t, Options{})
			data := randomData(1, 50000, false)
			fileSnapshot(t, r, "f", [][]byte{data}, time.Unix(1, 0), "h")
			pb, _ := r.LookupBlob(BlobHandle{ID: Hash(data), Type: DataBlob})
			name := filepath.Join(dir, "data", pb.PackID.String()[:2], pb.PackID.String())
			buf, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			if mode == "flip" {
				buf[pb.Offset+100] ^= 1
			} else {
				buf = buf[:len(buf)/2]
			}
			if err := os.Chmod(name, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(name, buf, 0o600); err != nil {
				t.Fatal(err)
			}
			r2 := openTestRepo(t, dir)
			_, err = r2.LoadBlob(ctx, DataBlob, Hash(data), nil)
			if err == nil || !strings.Contains(err.Error(), pb.PackID.String()) {
				t.Fatalf("LoadBlob of damaged pack: %v", err)
			}
			res, err := r2.Check(ctx, CheckOptions{ReadData: true})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, e := range res.Errors {
				if strings.Contains(e.Error(), "pack "+pb.PackID.String()) {
					found = true
				}
			}
			if !found {
				t.Fatalf("check did not name pack %s: %v", pb.PackID.Str(), res.Errors)
			}
			if _, err := r2.ListPack(ctx, pb.PackID, int64(len(buf))); mode == "truncate" && err == nil {
				t.Fatal("ListPack accepted a truncated pack")
			}
		})
	}
}

// TestCheckStructure: a missing pack and an unindexed pack are found
// without reading data (TestCheckTrees covers trees).
func TestCheckStructure(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t, Options{})
	data := randomData(1, 5000, false)
	fileSnapshot(t, r, "f", [][]byte{data}, time.Unix(1, 0), "h")
	res, err := r.Check(ctx, CheckOptions{})
	if err != nil || !res.OK() || len(res.Warnings) != 0 {
		t.Fatalf("clean repository: %v %v %v", err, res.Errors, res.Warnings)
	}
	pb, _ := r.LookupBlob(BlobHandle{ID: Hash(data), Type: DataBlob})
	if err := os.Remove(filepath.Join(dir, "data", pb.PackID.String()[:2], pb.PackID.String())); err != nil {
		t.Fatal(err)
	}
	// A pack no index knows (as an interrupted backup leaves).
	if _, _, _, err := r.SaveBlob(ctx, DataBlob, []byte("orphan"), ID{}, false); err != nil {
		t.Fatal(err)
	}
	if err := r.flushPacks(ctx); err != nil {
		t.Fatal(err)
	}
	r2 := openTestRepo(t, dir)
	res, err = r2.Check(ctx, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	all := fmt.Sprint(res.Errors)
	if !strings.Contains(all, pb.PackID.String()) || !strings.Contains(all, "missing") {
		t.Fatalf("missing pack not reported: %v", res.Errors)
	}
	if len(res.Warnings) != 1 {
		t.Fatalf("unindexed pack not reported: %v", res.Warnings)
	}
}

func TestKeys(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t, Options{KDF: testKDF})
	id2, err := r.AddKey(ctx, "second", "alice", "box")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := r.Keys(ctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys: %v %v", keys, err)
	}
	for _, k := range keys {
		if k.Current != (k.ID == r.KeyID()) {
			t.Fatalf("current flag wrong: %+v", k)
		}
		if k.ID == id2 && (k.Username != "alice" || k.Hostname != "box") {
			t.Fatalf("key info: %+v", k)
		}
	}
	if err := r.RemoveKey(ctx, r.KeyID()); err == nil {
		t.Fatal("removed the key in use")
	}
	// restic opens the repository with the second password.
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("second"), 0o600); err != nil {
		t.Fatal(err)
	}
	restictest.Run(t, dir, "--password-file", pwFile, "cat", "config")

	be, _ := local.Open(dir)
	r2, err := Open(ctx, be, "second", Options{KDF: testKDF})
	if err != nil || r2.KeyID() != id2 {
		t.Fatalf("open with second key: %v", err)
	}
	newID, err := r2.ChangePassword(ctx, "third", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, be, "second", Options{}); !errors.Is(err, ErrNoKeyFound) {
		t.Fatalf("old password still works: %v", err)
	}
	r3, err := Open(ctx, be, "third", Options{})
	if err != nil || r3.KeyID() != newID {
		t.Fatalf("new password: %v", err)
	}
	if err := r3.RemoveKey(ctx, r.KeyID()); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, be, restictest.Password, Options{}); !errors.Is(err, ErrNoKeyFound) {
		t.Fatalf("removed key still opens: %v", err)
	}
}

func TestLetheObjects(t *testing.T) {
	ctx := context.Background()
	r, dir := newTestRepo(t, Options{})
	secret := []byte(`{"subject":"anna.svensson@example.se"}`)
	if err := r.SaveLethe(ctx, "tombstones/t1", secret); err != nil {
		t.Fatal(err)
	}
	if err := r.SaveLethe(ctx, "keys/subject", []byte("k")); err != nil {
		t.Fatal(err)
	}
	if err := r.SaveLethe(ctx, "tombstones/t1", secret); err == nil {
		t.Fatal("overwrote a write-once object")
	}
	raw, err := os.ReadFile(filepath.Join(dir, "lethe", "tombstones", "t1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("anna")) {
		t.Fatal("lethe object stored in clear text")
	}
	got, err := r.LoadLethe(ctx, "tombstones/t1")
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("LoadLethe: %v", err)
	}
	var names []string
	if err := r.ListLethe(ctx, "tombstones/", func(n string) error { names = append(names, n); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != "tombstones/t1" {
		t.Fatalf("ListLethe: %v", names)
	}
	if err := r.RemoveLethe(ctx, "tombstones/t1"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.LoadLethe(ctx, "tombstones/t1"); !backends.IsNotExist(err) {
		t.Fatalf("removed object: %v", err)
	}
	if err := r.SaveLethe(ctx, "../escape", nil); err == nil {
		t.Fatal("escaping name accepted")
	}
}

func TestFindSnapshot(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRepo(t, Options{})
	if _, err := r.FindSnapshot(ctx, "latest"); !errors.Is(err, ErrSnapshotNotFound) {
		t.Fatalf("latest in empty repo: %v", err)
	}
	var snaps []*Snapshot
	for i := 0; i < 20; i++ {
		snaps = append(snaps, fileSnapshot(t, r, "f", [][]byte{{byte(i)}}, time.Unix(int64(1000-i), 0), "h"))
	}
	sn, err := r.FindSnapshot(ctx, "latest")
	if err != nil || sn.ID != snaps[0].ID {
		t.Fatalf("latest: %v", err)
	}
	sn, err = r.FindSnapshot(ctx, snaps[3].ID.String())
	if err != nil || sn.ID != snaps[3].ID || !sn.Time.Equal(snaps[3].Time) {
		t.Fatalf("full ID: %v", err)
	}
	// With 20 snapshots some one-digit prefix is ambiguous.
	counts := map[byte]int{}
	for _, s := range snaps {
		counts[s.ID.String()[0]]++
	}
	for c, n := range counts {
		_, err := r.FindSnapshot(ctx, string(c))
		if n > 1 && (err == nil || !strings.Contains(err.Error(), "ambiguous")) {
			t.Fatalf("ambiguous prefix %c: %v", c, err)
		}
		if n == 1 && err != nil {
			t.Fatalf("unique prefix %c: %v", c, err)
		}
	}
	if _, err := r.FindSnapshot(ctx, "0000000000000000000000000000000000000000000000000000000000000000"); !errors.Is(err, ErrSnapshotNotFound) {
		t.Fatalf("unknown ID: %v", err)
	}
	if _, err := r.FindSnapshot(ctx, "xyz"); err == nil {
		t.Fatal("invalid ID accepted")
	}
}

// TestUnpackedCompressed: v2 snapshot files are compressed with the
// version-byte framing, and plain JSON files are read too.
func TestUnpackedCompressed(t *testing.T) {
	ctx := context.Background()
	r, _ := newTestRepo(t, Options{})
	data := bytes.Repeat([]byte(`{"a":"b"}`), 1000)
	id, err := r.SaveUnpacked(ctx, backends.SnapshotFile, data)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := backends.LoadAll(ctx, r.Backend(), backends.Handle{Type: backends.SnapshotFile, Name: id.String()})
	plain, err := r.key.Open(nil, raw)
	if err != nil || plain[0] != 2 || len(plain) > len(data)/4 {
		t.Fatalf("stored form: %v, first byte %d, %d bytes", err, plain[0], len(plain))
	}
	got, err := r.LoadUnpacked(ctx, backends.SnapshotFile, id)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("LoadUnpacked: %v", err)
	}
	// Uncompressed JSON (as restic may write) is accepted.
	ct := r.key.Seal(nil, []byte(`{"x":1}`))
	id2 := Hash(ct)
	if err := r.Backend().Save(ctx, backends.Handle{Type: backends.SnapshotFile, Name: id2.String()}, ct); err != nil {
		t.Fatal(err)
	}
	if got, err := r.LoadUnpacked(ctx, backends.SnapshotFile, id2); err != nil || string(got) != `{"x":1}` {
		t.Fatalf("plain JSON: %q %v", got, err)
	}
}

func TestBlobTable(t *testing.T) {
	tab := newBlobTable(0)
	const n = 20000
	for i := 0; i < n; i++ {
		id := Hash([]byte(fmt.Sprint(i)))
		// The same ID as data and tree blob are different entries.
		tab.put(BlobHandle{ID: id, Type: DataBlob}, indexEntry{pack: uint32(i), offset: uint32(i), length: 40})
		tab.put(BlobHandle{ID: id, Type: TreeBlob}, indexEntry{pack: uint32(i + 1), length: 50})
	}
	tab.put(BlobHandle{ID: Hash([]byte("0")), Type: DataBlob}, indexEntry{pack: 7, length: 41})
	if tab.len() != 2*n {
		t.Fatalf("len %d, want %d", tab.len(), 2*n)
	}
	for i := 0; i < n; i++ {
		id := Hash([]byte(fmt.Sprint(i)))
		e, ok := tab.get(BlobHandle{ID: id, Type: DataBlob})
		want := indexEntry{pack: uint32(i), offset: uint32(i), length: 40}
		if i == 0 {
			want = indexEntry{pack: 7, length: 41}
		}
		if !ok || e != want {
			t.Fatalf("entry %d: %+v %v", i, e, ok)
		}
		if e, ok := tab.get(BlobHandle{ID: id, Type: TreeBlob}); !ok || e.pack != uint32(i+1) {
			t.Fatalf("tree entry %d: %+v %v", i, e, ok)
		}
	}
	if _, ok := tab.get(BlobHandle{ID: Hash([]byte("x")), Type: DataBlob}); ok {
		t.Fatal("found a blob never added")
	}
	seen := 0
	tab.each(func(BlobHandle, indexEntry) bool { seen++; return true })
	if seen != 2*n {
		t.Fatalf("each saw %d", seen)
	}
}

func TestParseMaxUnused(t *testing.T) {
	for s, want := range map[string]float64{"5%": 0.05, "0%": -1, "100%": 1, "unlimited": 1, "2.5%": 0.025} {
		if got, err := ParseMaxUnused(s); err != nil || got != want {
			t.Errorf("ParseMaxUnused(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"5", "-1%", "101%", "x%", ""} {
		if _, err := ParseMaxUnused(s); err == nil {
			t.Errorf("ParseMaxUnused(%q) accepted", s)
		}
	}
	by, err := ParseGroupBy("host, tags")
	if err != nil || by != (GroupBy{Host: true, Tags: true}) {
		t.Errorf("ParseGroupBy: %+v %v", by, err)
	}
	if _, err := ParseGroupBy("host,user"); err == nil {
		t.Error("ParseGroupBy accepted user")
	}
}
