// Command gobjson times Go's own gob and JSON round trips of the flat session
// that bench/run.py's gob row uses, so the Python ratio can be read against
// Go's.
//
// Gob is timed as gorilla/securecookie's GobEncoder runs it for
// gorilla/sessions: a fresh gob.Encoder per value writing the session's
// map[interface{}]interface{} (type definition included), and a fresh
// gob.Decoder reading it back into a map. JSON is securecookie's JSONEncoder:
// json.Marshal and json.Unmarshal of the same values as a
// map[string]interface{}. Rounds alternate gob and JSON; the ratio printed is
// the median of the per-round ratios, the times the best round of each.
//
// Standard library only, so `go run .` works offline. It prints one JSON
// object on stdout:
//
//	{"gob_ns": 33174.9, "json_ns": 6725.8, "ratio": 3.69, "gob_bytes": 218, "json_bytes": 112, "go": "go1.19.8"}
package main

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"sort"
	"time"
)

func init() {
	// gorilla/sessions registers this type in its own init (for flashes); a
	// flat session needs nothing else.
	gob.Register([]interface{}{})
}

func jsonSession() map[string]interface{} {
	return map[string]interface{}{
		"user_id":  42,
		"username": "alice",
		"csrf":     "k3JfQ9xVb2LmT8wZr4YhNc6PdA1sE7Gu",
		"admin":    true,
		"lang":     "en",
		"visits":   17,
	}
}

// gobSession is the same session as gorilla holds it: interface{} keys.
func gobSession() map[interface{}]interface{} {
	session := map[interface{}]interface{}{}
	for key, value := range jsonSession() {
		session[key] = value
	}
	return session
}

func gobRoundTrip(src map[interface{}]interface{}) (map[interface{}]interface{}, int) {
	buf := new(bytes.Buffer)
	if err := gob.NewEncoder(buf).Encode(src); err != nil {
		panic(err)
	}
	size := buf.Len()
	dst := map[interface{}]interface{}{}
	if err := gob.NewDecoder(bytes.NewBuffer(buf.Bytes())).Decode(&dst); err != nil {
		panic(err)
	}
	return dst, size
}

func jsonRoundTrip(src map[string]interface{}) (map[string]interface{}, int) {
	data, err := json.Marshal(src)
	if err != nil {
		panic(err)
	}
	dst := map[string]interface{}{}
	if err := json.Unmarshal(data, &dst); err != nil {
		panic(err)
	}
	return dst, len(data)
}

// perOp runs fn n times and returns the time per call in nanoseconds.
func perOp(fn func(), n int) float64 {
	start := time.Now()
	for i := 0; i < n; i++ {
		fn()
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

// calibrate finds a count of calls that takes about target.
func calibrate(fn func(), target time.Duration) int {
	n := 1
	for {
		start := time.Now()
		for i := 0; i < n; i++ {
			fn()
		}
		if elapsed := time.Since(start); elapsed >= target/4 || n >= 1<<24 {
			scaled := int(float64(n) * float64(target) / float64(elapsed+1))
			if scaled < 1 {
				scaled = 1
			}
			return scaled
		}
		n *= 2
	}
}

func median(values []float64) float64 {
	sorted := append([]float64(nil), values...)
	sort.Float64s(sorted)
	mid := len(sorted) / 2
	if len(sorted)%2 == 1 {
		return sorted[mid]
	}
	return (sorted[mid-1] + sorted[mid]) / 2
}

func minimum(values []float64) float64 {
	best := values[0]
	for _, v := range values[1:] {
		if v < best {
			best = v
		}
	}
	return best
}

func main() {
	rounds := flag.Int("rounds", 7, "interleaved rounds")
	per := flag.Duration("round-time", 100*time.Millisecond, "time per side per round")
	flag.Parse()

	gobIn, jsonIn := gobSession(), jsonSession()
	gobOut, gobBytes := gobRoundTrip(gobIn)
	jsonOut, jsonBytes := jsonRoundTrip(jsonIn)
	if !reflect.DeepEqual(gobOut, gobIn) {
		fmt.Fprintf(os.Stderr, "gob round trip changed the session: %v\n", gobOut)
		os.Exit(1)
	}
	if len(jsonOut) != len(jsonIn) {
		fmt.Fprintf(os.Stderr, "JSON round trip changed the session: %v\n", jsonOut)
		os.Exit(1)
	}

	gobFn := func() { gobRoundTrip(gobIn) }
	jsonFn := func() { jsonRoundTrip(jsonIn) }
	nGob, nJSON := calibrate(gobFn, *per), calibrate(jsonFn, *per)
	gobTimes := make([]float64, 0, *rounds)
	jsonTimes := make([]float64, 0, *rounds)
	ratios := make([]float64, 0, *rounds)
	for i := 0; i < *rounds; i++ {
		g := perOp(gobFn, nGob)
		j := perOp(jsonFn, nJSON)
		gobTimes = append(gobTimes, g)
		jsonTimes = append(jsonTimes, j)
		ratios = append(ratios, g/j)
	}
	out, _ := json.Marshal(map[string]interface{}{
		"gob_ns":     minimum(gobTimes),
		"json_ns":    minimum(jsonTimes),
		"ratio":      median(ratios),
		"gob_bytes":  gobBytes,
		"json_bytes": jsonBytes,
		"go":         runtime.Version(),
	})
	fmt.Println(string(out))
}
