package repository

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"

	//lint:ignore SA1019 restic's format is Poly1305-AES; the one-time key is derived per message from the IV as the format requires.
	"golang.org/x/crypto/poly1305"
	"golang.org/x/crypto/scrypt"
)

const (
	aesKeySize = 32 // AES-256
	macKeySize = 16 // each of k (AES-128) and r (Poly1305)
	ivSize     = aes.BlockSize
	macSize    = poly1305.TagSize
)

// errUnauthenticated says that a ciphertext's MAC did not verify: wrong key
// or modified data.
var errUnauthenticated = errors.New("ciphertext verification failed")

// cryptoKey is a set of keys as restic uses them: AES-256-CTR for
// encryption, Poly1305-AES (k for AES-128 on the nonce, r for Poly1305)
// for authentication.
type cryptoKey struct {
	encrypt [aesKeySize]byte
	macK    [macKeySize]byte
	macR    [macKeySize]byte

	encBlock cipher.Block
	macBlock cipher.Block
}

// poly1305 clamping of r, as the Poly1305-AES paper defines it; restic
// stores r already masked.
func maskR(r *[macKeySize]byte) {
	r[3] &= 0x0f
	r[4] &= 0xfc
	r[7] &= 0x0f
	r[8] &= 0xfc
	r[11] &= 0x0f
	r[12] &= 0xfc
	r[15] &= 0x0f
}

func newCryptoKey(enc, k, r []byte) (*cryptoKey, error) {
	if len(enc) != aesKeySize || len(k) != macKeySize || len(r) != macKeySize {
		return nil, errors.New("invalid key length")
	}
	key := &cryptoKey{}
	copy(key.encrypt[:], enc)
	copy(key.macK[:], k)
	copy(key.macR[:], r)
	maskR(&key.macR)
	var err error
	if key.encBlock, err = aes.NewCipher(key.encrypt[:]); err != nil {
		return nil, err
	}
	if key.macBlock, err = aes.NewCipher(key.macK[:]); err != nil {
		return nil, err
	}
	return key, nil
}

// newRandomKey makes a fresh master key.
func newRandomKey() (*cryptoKey, error) {
	buf := make([]byte, aesKeySize+2*macKeySize)
	if _, err := rand.Read(buf); err != nil {
		return nil, fmt.Errorf("generating key: %w", err)
	}
	return newCryptoKey(buf[:aesKeySize], buf[aesKeySize:aesKeySize+macKeySize], buf[aesKeySize+macKeySize:])
}

// deriveKey runs scrypt like restic: 64 bytes of output are the
// encryption key followed by the MAC keys k and r.
func deriveKey(password string, salt []byte, p KDFParams) (*cryptoKey, error) {
	if err := p.valid(); err != nil {
		return nil, err
	}
	out, err := scrypt.Key([]byte(password), salt, p.N, p.R, p.P, aesKeySize+2*macKeySize)
	if err != nil {
		return nil, fmt.Errorf("deriving key: %w", err)
	}
	if 128*p.N*p.R >= 8<<20 {
		// scrypt's tens of MiB are garbage now. Collect them at once: a
		// collection during scrypt saw them live and set the next one to
		// twice that, which would let a backup's garbage grow that far.
		runtime.GC()
	}
	return newCryptoKey(out[:aesKeySize], out[aesKeySize:aesKeySize+macKeySize], out[aesKeySize+macKeySize:])
}

func (p KDFParams) valid() error {
	// Bounds keep a hostile key file from making us allocate without limit
	// (scrypt needs 128*N*r bytes: at most 2 GiB here).
	if p.N < 2 || p.N&(p.N-1) != 0 || p.N > 1<<24 || p.R < 1 || p.P < 1 || p.R*p.P >= 1<<30 || uint64(p.N)*uint64(p.R) > 1<<24 {
		return fmt.Errorf("invalid scrypt parameters N=%d r=%d p=%d", p.N, p.R, p.P)
	}
	return nil
}

func (k *cryptoKey) mac(iv, ciphertext []byte) [macSize]byte {
	var polyKey [32]byte
	copy(polyKey[:16], k.macR[:])
	k.macBlock.Encrypt(polyKey[16:], iv)
	var tag [macSize]byte
	poly1305.Sum(&tag, ciphertext, &polyKey)
	return tag
}

// Seal appends IV || AES-256-CTR(plaintext) || MAC to dst.
func (k *cryptoKey) Seal(dst, plaintext []byte) []byte {
	start := len(dst)
	need := ivSize + len(plaintext) + macSize
	if cap(dst)-start < need {
		n := make([]byte, start, start+need)
		copy(n, dst)
		dst = n
	}
	dst = dst[:start+need]
	iv := dst[start : start+ivSize]
	if _, err := rand.Read(iv); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	ct := dst[start+ivSize : start+ivSize+len(plaintext)]
	cipher.NewCTR(k.encBlock, iv).XORKeyStream(ct, plaintext)
	tag := k.mac(iv, ct)
	copy(dst[start+ivSize+len(plaintext):], tag[:])
	return dst
}

// Open verifies and decrypts IV || ciphertext || MAC, appending the
// plaintext to dst. dst may be ciphertext[ivSize:ivSize] to decrypt in
// place (CTR needs exactly overlapping buffers).
func (k *cryptoKey) Open(dst, ciphertext []byte) ([]byte, error) {
	if len(ciphertext) < ivSize+macSize {
		return nil, fmt.Errorf("ciphertext too short (%d bytes)", len(ciphertext))
	}
	iv := ciphertext[:ivSize]
	ct := ciphertext[ivSize : len(ciphertext)-macSize]
	tag := k.mac(iv, ct)
	if subtle.ConstantTimeCompare(tag[:], ciphertext[len(ciphertext)-macSize:]) != 1 {
		return nil, errUnauthenticated
	}
	start := len(dst)
	if cap(dst)-start < len(ct) {
		n := make([]byte, start, start+len(ct))
		copy(n, dst)
		dst = n
	}
	dst = dst[:start+len(ct)]
	cipher.NewCTR(k.encBlock, iv).XORKeyStream(dst[start:], ct)
	return dst, nil
}

// masterKeyJSON is the plaintext of a key file's data field.
type masterKeyJSON struct {
	MAC struct {
		K []byte `json:"k"`
		R []byte `json:"r"`
	} `json:"mac"`
	Encrypt []byte `json:"encrypt"`
}

func (k *cryptoKey) MarshalJSON() ([]byte, error) {
	var j masterKeyJSON
	j.MAC.K = k.macK[:]
	j.MAC.R = k.macR[:]
	j.Encrypt = k.encrypt[:]
	return json.Marshal(j)
}

func unmarshalKey(buf []byte) (*cryptoKey, error) {
	var j masterKeyJSON
	if err := json.Unmarshal(buf, &j); err != nil {
		return nil, fmt.Errorf("decoding master key: %w", err)
	}
	return newCryptoKey(j.Encrypt, j.MAC.K, j.MAC.R)
}
