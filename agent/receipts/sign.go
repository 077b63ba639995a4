package receipts

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Receipt is a signed receipt: the facts, the canonical bytes that were
// signed, the signature and the signing key's fingerprint. File is the
// signed file as written and read.
type Receipt struct {
	Facts     Facts
	Canonical []byte // RFC 8785 form of Facts: what the signature covers
	Signature []byte
	Key       string // Fingerprint of the signing key
	File      []byte
}

// envelope is the signed file: canonical JSON itself, then a newline.
type envelope struct {
	Key       string          `json:"key"`
	Receipt   json.RawMessage `json:"receipt"`
	Signature string          `json:"signature"`
}

// Fingerprint names a public key: "SHA256:" and the unpadded base64 of
// the SHA-256 of its 32 bytes, as OpenSSH prints key fingerprints.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// Sign validates f and signs its canonical JSON with key.
func Sign(f Facts, key ed25519.PrivateKey) (Receipt, error) {
	if len(key) != ed25519.PrivateKeySize {
		return Receipt{}, errors.New("signing receipt: not an Ed25519 private key")
	}
	f = f.normalize()
	if err := f.Validate(); err != nil {
		return Receipt{}, err
	}
	canon, err := Marshal(f)
	if err != nil {
		return Receipt{}, fmt.Errorf("encoding receipt: %w", err)
	}
	sig := ed25519.Sign(key, canon)
	pub := key.Public().(ed25519.PublicKey)
	env := envelope{Key: Fingerprint(pub), Receipt: canon, Signature: base64.StdEncoding.EncodeToString(sig)}
	file, err := Marshal(env)
	if err != nil {
		return Receipt{}, fmt.Errorf("encoding receipt: %w", err)
	}
	file = append(file, '\n')
	return Receipt{Facts: f, Canonical: canon, Signature: sig, Key: env.Key, File: file}, nil
}

// Verify checks a signed receipt file against pub and returns it. It fails
// on any byte that differs from what Sign wrote: the file must be in
// canonical form (members in order, no added space) with one final newline,
// the signature must be pub's over the receipt, and the facts must be a
// valid receipt with no unknown field.
func Verify(data []byte, pub ed25519.PublicKey) (Receipt, error) {
	if len(pub) != ed25519.PublicKeySize {
		return Receipt{}, errors.New("verifying receipt: not an Ed25519 public key")
	}
	r, err := parse(data)
	if err != nil {
		return Receipt{}, err
	}
	if r.Key != Fingerprint(pub) {
		return Receipt{}, fmt.Errorf("verifying receipt: signed by key %s, not %s", r.Key, Fingerprint(pub))
	}
	if !ed25519.Verify(pub, r.Canonical, r.Signature) {
		return Receipt{}, errors.New("verifying receipt: the signature does not match: the receipt was changed or signed by another key")
	}
	return r, nil
}

// parse reads a signed file without checking the signature.
func parse(data []byte) (Receipt, error) {
	body, ok := bytes.CutSuffix(data, []byte("\n"))
	if !ok {
		return Receipt{}, errors.New("verifying receipt: the file does not end in one newline")
	}
	canon, err := Canonicalize(body)
	if err != nil {
		return Receipt{}, fmt.Errorf("verifying receipt: %w", err)
	}
	if !bytes.Equal(canon, body) {
		return Receipt{}, errors.New("verifying receipt: not in canonical form (RFC 8785): the file was changed")
	}
	var env envelope
	if err := strictUnmarshal(body, &env); err != nil {
		return Receipt{}, fmt.Errorf("verifying receipt: %w", err)
	}
	// encoding/json matches member names case-insensitively: "Key" would
	// pass for "key". Writing the envelope again must give the same bytes.
	if again, err := Marshal(env); err != nil || !bytes.Equal(again, body) {
		return Receipt{}, errors.New("verifying receipt: the file holds members lethe does not write")
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(env.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return Receipt{}, errors.New("verifying receipt: malformed signature")
	}
	var f Facts
	if err := strictUnmarshal(env.Receipt, &f); err != nil {
		return Receipt{}, fmt.Errorf("verifying receipt: %w", err)
	}
	if err := f.Validate(); err != nil {
		return Receipt{}, fmt.Errorf("verifying receipt: %w", err)
	}
	// The facts must say exactly what was signed: nothing the decoder
	// dropped or read differently.
	again, err := Marshal(f.normalize())
	if err != nil || !bytes.Equal(again, env.Receipt) {
		return Receipt{}, errors.New("verifying receipt: the receipt holds values lethe does not write")
	}
	return Receipt{Facts: f, Canonical: []byte(env.Receipt), Signature: sig, Key: env.Key, File: data}, nil
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the value")
	}
	return nil
}

// MarshalPublicKey returns pub as a PEM "PUBLIC KEY" block (PKIX), the
// form a business publishes and openssl reads.
func MarshalPublicKey(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKey reads a public key as MarshalPublicKey writes it, or as
// the standard base64 of its 32 bytes.
func ParsePublicKey(s []byte) (ed25519.PublicKey, error) {
	if block, _ := pem.Decode(s); block != nil {
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("public key: PEM block %q, want PUBLIC KEY", block.Type)
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, errors.New("public key: not an Ed25519 key")
		}
		return pub, nil
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(s)))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("public key: want a PEM PUBLIC KEY block or the base64 of 32 bytes")
	}
	return ed25519.PublicKey(b), nil
}
