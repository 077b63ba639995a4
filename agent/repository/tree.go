package repository

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Node types, as restic names them.
const (
	NodeFile    = "file"
	NodeDir     = "dir"
	NodeSymlink = "symlink"
	NodeDev     = "dev"
	NodeCharDev = "chardev"
	NodeFifo    = "fifo"
	NodeSocket  = "socket"
)

// ExtendedAttribute is one xattr of a node.
type ExtendedAttribute struct {
	Name  string `json:"name"`
	Value []byte `json:"value"`
}

// MarkRewritten marks a file node whose content is not its file's bytes
// (records were taken out of it) by clearing its change time. The next
// backup, lethe's or restic's, then sees the file as changed and reads it
// again instead of reusing this content: after the erasure is revoked the
// file is stored whole, also when taking the records out kept its size.
func MarkRewritten(n *Node) { n.ChangeTime = time.Time{} }

// Node is one entry of a tree, encoded exactly as restic encodes it so
// that both programs read each other's trees. Mode is a Go os.FileMode
// including its type bits.
type Node struct {
	Name               string              `json:"name"`
	Type               string              `json:"type"`
	Mode               os.FileMode         `json:"mode,omitempty"`
	ModTime            time.Time           `json:"mtime,omitempty"`
	AccessTime         time.Time           `json:"atime,omitempty"`
	ChangeTime         time.Time           `json:"ctime,omitempty"`
	UID                uint32              `json:"uid"`
	GID                uint32              `json:"gid"`
	User               string              `json:"user,omitempty"`
	Group              string              `json:"group,omitempty"`
	Inode              uint64              `json:"inode,omitempty"`
	DeviceID           uint64              `json:"device_id,omitempty"`
	Size               uint64              `json:"size,omitempty"`
	Links              uint64              `json:"links,omitempty"`
	LinkTarget         string              `json:"linktarget,omitempty"`
	ExtendedAttributes []ExtendedAttribute `json:"extended_attributes,omitempty"`
	Device             uint64              `json:"device,omitempty"`
	Content            IDs                 `json:"content"`
	Subtree            *ID                 `json:"subtree,omitempty"`
	Error              string              `json:"error,omitempty"`
}

// nodeJSON has Node's fields without its methods.
type nodeJSON Node

// MarshalJSON stores the name Go-quoted inside the JSON string, as restic
// does: a name with a newline, a backslash or invalid UTF-8 must survive,
// and restic refuses trees whose names do not unquote.
func (n Node) MarshalJSON() ([]byte, error) {
	nj := nodeJSON(n)
	q := strconv.Quote(n.Name)
	nj.Name = q[1 : len(q)-1]
	return json.Marshal(nj)
}

// UnmarshalJSON reverses MarshalJSON.
func (n *Node) UnmarshalJSON(b []byte) error {
	var nj nodeJSON
	if err := json.Unmarshal(b, &nj); err != nil {
		return err
	}
	if err := nj.unquoteName(); err != nil {
		return err
	}
	*n = Node(nj)
	return nil
}

// unquoteName reverses the quoting of the name MarshalJSON does.
func (nj *nodeJSON) unquoteName() error {
	if !strings.ContainsAny(nj.Name, "\\\"\n") && utf8.ValidString(nj.Name) {
		return nil // nothing was quoted: Unquote would return it as it is
	}
	name, err := strconv.Unquote(`"` + nj.Name + `"`)
	if err != nil {
		return fmt.Errorf("invalid encoding of node name: %w", err)
	}
	nj.Name = name
	return nil
}

// Tree is a directory listing; Nodes are sorted by name.
type Tree struct {
	Nodes []*Node `json:"nodes"`
}

// Insert adds a node, keeping the order. Names must be unique.
func (t *Tree) Insert(n *Node) error {
	i := sort.Search(len(t.Nodes), func(i int) bool { return t.Nodes[i].Name >= n.Name })
	if i < len(t.Nodes) && t.Nodes[i].Name == n.Name {
		return fmt.Errorf("duplicate tree entry %q", n.Name)
	}
	t.Nodes = append(t.Nodes, nil)
	copy(t.Nodes[i+1:], t.Nodes[i:])
	t.Nodes[i] = n
	return nil
}

// Find returns the node called name, or nil.
func (t *Tree) Find(name string) *Node {
	i := sort.Search(len(t.Nodes), func(i int) bool { return t.Nodes[i].Name >= name })
	if i < len(t.Nodes) && t.Nodes[i].Name == name {
		return t.Nodes[i]
	}
	return nil
}

// EncodeTree returns a tree blob's plaintext: sorted JSON and a newline,
// as restic writes it.
func EncodeTree(t *Tree) ([]byte, error) {
	sort.SliceStable(t.Nodes, func(i, j int) bool { return t.Nodes[i].Name < t.Nodes[j].Name })
	for i := 1; i < len(t.Nodes); i++ {
		if t.Nodes[i-1].Name == t.Nodes[i].Name {
			return nil, fmt.Errorf("duplicate tree entry %q", t.Nodes[i].Name)
		}
	}
	if t.Nodes == nil {
		t.Nodes = []*Node{}
	}
	buf, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	return append(buf, '\n'), nil
}

// DecodeTree parses a tree blob.
func DecodeTree(buf []byte) (*Tree, error) {
	// Decoded as nodeJSON, not through Node.UnmarshalJSON: the decoder
	// would scan every node's bytes twice more to hand them over.
	var tj struct {
		Nodes []*nodeJSON `json:"nodes"`
	}
	if err := json.Unmarshal(buf, &tj); err != nil {
		return nil, err
	}
	t := &Tree{Nodes: make([]*Node, len(tj.Nodes))}
	for i, nj := range tj.Nodes {
		if nj == nil {
			return nil, fmt.Errorf("tree entry %d is null", i)
		}
		if err := nj.unquoteName(); err != nil {
			return nil, err
		}
		t.Nodes[i] = (*Node)(nj)
	}
	return t, nil
}
