//go:build !race

package operations

const raceEnabled = false
