//go:build !race

package tombstones

const raceEnabled = false
