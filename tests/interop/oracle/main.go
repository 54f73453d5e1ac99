// Command oracle is sessionspec's interoperability oracle: a long-running
// process that answers questions about what the real Go gorilla/securecookie
// and gorilla/sessions libraries do, so the Python tests can compare our port
// against them.
//
// It reads one JSON request per line on stdin and writes exactly one JSON
// response per line on stdout, in order. See tests/interop/README.md for the
// protocol. The library is used unmodified; the only trick is that the
// codec's unexported clock is set through reflection when a request carries
// a "timestamp".
//
// Gob values travel as "typed values" JSON (see the typed-values section and
// tests/vectors/gorilla/README.md), so Go types such as int64 or []string
// survive the trip through JSON. The session operations (session-save,
// session-load, fs-save, fs-load) use sessions.CookieStore and
// sessions.FilesystemStore with their default gob serializer.
//
// Build it in GOPATH mode against the Debian packages (no downloads):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o oracle .
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
)

// keyPair is one hash/block key pair of a rotation list.
type keyPair struct {
	HashKeyHex  string `json:"hash_key_hex"`
	BlockKeyHex string `json:"block_key_hex"`
}

// request is the union of every field any operation reads. Fields an
// operation does not use are ignored.
type request struct {
	Op          string          `json:"op"`
	HashKeyHex  string          `json:"hash_key_hex"`
	BlockKeyHex string          `json:"block_key_hex"`
	KeyPairs    []keyPair       `json:"key_pairs"`
	Name        string          `json:"name"`
	Serializer  string          `json:"serializer"`
	Value       json.RawMessage `json:"value"`
	ValueB64    string          `json:"value_b64"`
	Cookie      string          `json:"cookie"`
	Dst         string          `json:"dst"`
	MaxLength   *int            `json:"max_length"`
	MaxAge      *int            `json:"max_age"`
	MinAge      *int            `json:"min_age"`
	Timestamp   *int64          `json:"timestamp"`

	// Gob and session operations.
	Values       json.RawMessage `json:"values"`
	GobHex       string          `json:"gob_hex"`
	Top          string          `json:"top"`
	CookieHeader string          `json:"cookie_header"`
	Dir          string          `json:"dir"`
	SessionID    *string         `json:"session_id"`
	Options      *sessionOptions `json:"options"`
	Now          *int64          `json:"now"`
}

// response is written back as one JSON object.
type response map[string]interface{}

// badRequest marks a mistake in the request itself, as opposed to an error
// returned by the library under test.
type badRequest struct{ msg string }

func (e badRequest) Error() string { return "oracle: " + e.msg }

func badf(format string, args ...interface{}) error {
	return badRequest{fmt.Sprintf(format, args...)}
}

// ops is the dispatch table. New operations (gob values, sessions stores)
// are added here.
var ops = map[string]func(*request) (response, error){
	"ping":         opPing,
	"encode":       opEncode,
	"decode":       opDecode,
	"gob-encode":   opGobEncode,
	"gob-decode":   opGobDecode,
	"session-save": opSessionSave,
	"session-load": opSessionLoad,
	"fs-save":      opFsSave,
	"fs-load":      opFsLoad,
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 64*1024), 64*1024*1024)
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for in.Scan() {
		if err := enc.Encode(handle(in.Bytes())); err != nil {
			fmt.Fprintln(os.Stderr, "oracle: cannot write response:", err)
			os.Exit(1)
		}
		if err := out.Flush(); err != nil {
			os.Exit(1)
		}
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, "oracle: cannot read request:", err)
		os.Exit(1)
	}
}

// handle answers one request line; it never panics the whole process.
func handle(line []byte) (resp response) {
	defer func() {
		if p := recover(); p != nil {
			resp = response{"ok": false, "bad_request": true,
				"error": fmt.Sprintf("oracle: panic: %v", p)}
		}
	}()
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		return failure(badf("cannot parse request: %v", err))
	}
	op, found := ops[req.Op]
	if !found {
		return failure(badf("unknown op %q", req.Op))
	}
	resp, err := op(&req)
	if err != nil {
		return failure(err)
	}
	resp["ok"] = true
	return resp
}

// failure describes an error the way securecookie's Error interface sees it.
func failure(err error) response {
	resp := response{"ok": false, "error": err.Error(), "error_go_type": fmt.Sprintf("%T", err)}
	var bad badRequest
	if errors.As(err, &bad) {
		resp["bad_request"] = true
		return resp
	}
	if scErr, isSC := err.(securecookie.Error); isSC {
		resp["is_decode"] = scErr.IsDecode()
		resp["is_usage"] = scErr.IsUsage()
		resp["is_internal"] = scErr.IsInternal()
	} else {
		resp["is_decode"], resp["is_usage"], resp["is_internal"] = false, false, false
	}
	if multi, isMulti := err.(securecookie.MultiError); isMulti {
		msgs := make([]interface{}, 0, len(multi))
		for _, e := range multi {
			if e != nil {
				msgs = append(msgs, e.Error())
			}
		}
		resp["errors"] = msgs
	}
	return resp
}

func opPing(*request) (response, error) {
	return response{"pong": true}, nil
}

func opEncode(req *request) (response, error) {
	codecs, err := buildCodecs(req)
	if err != nil {
		return nil, err
	}
	value, err := encodeInput(req)
	if err != nil {
		return nil, err
	}
	var cookie string
	if req.KeyPairs != nil {
		cookie, err = securecookie.EncodeMulti(req.Name, value, codecs...)
	} else {
		cookie, err = codecs[0].Encode(req.Name, value)
	}
	if err != nil {
		return nil, err
	}
	return response{"cookie": cookie}, nil
}

func opDecode(req *request) (response, error) {
	codecs, err := buildCodecs(req)
	if err != nil {
		return nil, err
	}
	dst, err := decodeTarget(req)
	if err != nil {
		return nil, err
	}
	if req.KeyPairs != nil {
		err = securecookie.DecodeMulti(req.Name, req.Cookie, dst, codecs...)
	} else {
		err = codecs[0].Decode(req.Name, req.Cookie, dst)
	}
	if err != nil {
		return nil, err
	}
	switch d := dst.(type) {
	case *[]byte:
		return response{"value_b64": base64.StdEncoding.EncodeToString(*d)}, nil
	case *map[string]interface{}:
		return response{"value": *d}, nil
	case *interface{}:
		return response{"value": *d}, nil
	}
	return nil, badf("unhandled destination %T", dst)
}

// buildCodecs makes the codec (or, with key_pairs, the rotation list) that a
// request describes, configured with its serializer, limits and clock.
func buildCodecs(req *request) ([]securecookie.Codec, error) {
	sz, err := serializer(req.Serializer)
	if err != nil {
		return nil, err
	}
	var codecs []securecookie.Codec
	if req.KeyPairs != nil {
		var keys [][]byte
		for i, pair := range req.KeyPairs {
			hashKey, err := keyFromHex(pair.HashKeyHex)
			if err != nil {
				return nil, badf("key_pairs[%d].hash_key_hex: %v", i, err)
			}
			blockKey, err := keyFromHex(pair.BlockKeyHex)
			if err != nil {
				return nil, badf("key_pairs[%d].block_key_hex: %v", i, err)
			}
			keys = append(keys, hashKey, blockKey)
		}
		codecs = securecookie.CodecsFromPairs(keys...)
	} else {
		hashKey, err := keyFromHex(req.HashKeyHex)
		if err != nil {
			return nil, badf("hash_key_hex: %v", err)
		}
		blockKey, err := keyFromHex(req.BlockKeyHex)
		if err != nil {
			return nil, badf("block_key_hex: %v", err)
		}
		codecs = []securecookie.Codec{securecookie.New(hashKey, blockKey)}
	}
	for _, c := range codecs {
		sc, isSC := c.(*securecookie.SecureCookie)
		if !isSC {
			return nil, badf("codec is a %T, not *securecookie.SecureCookie", c)
		}
		sc.SetSerializer(sz)
		if req.MaxLength != nil {
			sc.MaxLength(*req.MaxLength)
		}
		if req.MaxAge != nil {
			sc.MaxAge(*req.MaxAge)
		}
		if req.MinAge != nil {
			sc.MinAge(*req.MinAge)
		}
		if req.Timestamp != nil {
			if err := setClock(sc, *req.Timestamp); err != nil {
				return nil, err
			}
		}
	}
	return codecs, nil
}

// keyFromHex decodes a hex key; the empty string means "no key" (nil), which
// is how securecookie tells an absent key from a present one.
func keyFromHex(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	return hex.DecodeString(s)
}

func serializer(name string) (securecookie.Serializer, error) {
	switch name {
	case "json":
		return securecookie.JSONEncoder{}, nil
	case "nop":
		return securecookie.NopEncoder{}, nil
	}
	return nil, badf("serializer must be \"json\" or \"nop\", got %q", name)
}

// encodeInput turns the request's value into what the serializer is given:
// raw bytes for nop, a generic JSON value for json.
func encodeInput(req *request) (interface{}, error) {
	if req.Serializer == "nop" {
		raw, err := base64.StdEncoding.DecodeString(req.ValueB64)
		if err != nil {
			return nil, badf("value_b64: %v", err)
		}
		return raw, nil
	}
	if len(req.Value) == 0 {
		return nil, badf("encode needs a \"value\"")
	}
	var value interface{}
	if err := json.Unmarshal(req.Value, &value); err != nil {
		return nil, badf("value: %v", err)
	}
	return value, nil
}

// decodeTarget is what Decode writes into: *[]byte for nop; for json a
// map[string]interface{} (dst "map", the default, as a session would use)
// or any JSON value (dst "any").
func decodeTarget(req *request) (interface{}, error) {
	if req.Serializer == "nop" {
		return new([]byte), nil
	}
	switch req.Dst {
	case "", "map":
		return &map[string]interface{}{}, nil
	case "any":
		return new(interface{}), nil
	}
	return nil, badf("dst must be \"map\" or \"any\", got %q", req.Dst)
}

// setClock makes the codec read the given Unix time as "now". securecookie
// keeps this hook in an unexported field meant for its own tests, so it is
// reached through reflection; the library's code is not changed.
func setClock(sc *securecookie.SecureCookie, now int64) error {
	field := reflect.ValueOf(sc).Elem().FieldByName("timeFunc")
	clock := func() int64 { return now }
	if !field.IsValid() || field.Type() != reflect.TypeOf(clock) {
		return badf("this securecookie has no timeFunc field; cannot set the clock")
	}
	settable := reflect.NewAt(field.Type(), unsafe.Pointer(field.UnsafeAddr())).Elem()
	settable.Set(reflect.ValueOf(clock))
	return nil
}

// ---------------------------------------------------------------------------
// Gob values and sessions

// Address and Person are the registered struct types the interop tests send
// both ways: every field kind gob has, a nested struct and an interface.
type Address struct {
	City string
	Zip  int
}

// Person is registered as a pointer, so its gob name is "*main.Person".
type Person struct {
	Name  string
	Age   int
	Tags  []string
	Score float64
	Admin bool
	Home  Address
	Extra interface{}
	Data  []byte
	Seen  time.Time
	Attrs map[string]int
}

// knownTypes are the Go types a "$<type>" tag may name (and a typed value may
// have); gob registers the basic ones and their slices itself.
var knownTypes = map[string]reflect.Type{}

var timeType = reflect.TypeOf(time.Time{})

func init() {
	gob.Register(map[string]interface{}{})
	gob.Register(map[interface{}]interface{}{})
	gob.Register(map[string]string{})
	gob.Register(map[string]int{})
	gob.Register(time.Time{})
	gob.Register(&Person{})
	gob.Register(Address{})
	samples := []interface{}{
		int8(0), int16(0), int32(0), int64(0), uint(0), uint8(0), uint16(0), uint32(0),
		uint64(0), uintptr(0), float32(0), float64(0), complex64(0), complex128(0),
		[]string(nil), []int(nil), []int8(nil), []int16(nil), []int32(nil), []int64(nil),
		[]uint(nil), []uint16(nil), []uint32(nil), []uint64(nil), []float32(nil),
		[]float64(nil), []bool(nil), []complex64(nil), []complex128(nil),
		map[string]string(nil), map[string]int(nil),
	}
	for _, sample := range samples {
		t := reflect.TypeOf(sample)
		knownTypes[t.String()] = t
	}
}

// sessionOptions mirrors sessions.Options in requests.
type sessionOptions struct {
	Path     *string `json:"path"`
	Domain   *string `json:"domain"`
	MaxAge   *int    `json:"max_age"`
	Secure   *bool   `json:"secure"`
	HttpOnly *bool   `json:"http_only"`
	SameSite *string `json:"same_site"`
}

// opGobEncode gob-encodes typed "values" with a fresh Encoder, as
// securecookie's GobEncoder does: top "map" (default) sends a session's
// map[interface{}]interface{}, top "any" the value itself (a string for a
// FilesystemStore ID, say).
func opGobEncode(req *request) (response, error) {
	value, err := requestValues(req, req.Top != "any")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(value); err != nil {
		return nil, err
	}
	return response{"gob_hex": hex.EncodeToString(buf.Bytes())}, nil
}

// opGobDecode decodes gob_hex into a map[interface{}]interface{} (top "map",
// the default) or a string (top "string"), and returns it as typed values.
func opGobDecode(req *request) (response, error) {
	raw, err := hex.DecodeString(req.GobHex)
	if err != nil {
		return nil, badf("gob_hex: %v", err)
	}
	dec := gob.NewDecoder(bytes.NewReader(raw))
	if req.Top == "string" {
		var text string
		if err := dec.Decode(&text); err != nil {
			return nil, err
		}
		return response{"values": text}, nil
	}
	values := map[interface{}]interface{}{}
	if err := dec.Decode(&values); err != nil {
		return nil, err
	}
	return response{"values": typedSession(values)}, nil
}

// opSessionSave: a CookieStore reads the request's Cookie header (if any),
// the session's Values are replaced by "values", and Save writes Set-Cookie.
func opSessionSave(req *request) (response, error) {
	store, err := cookieStore(req)
	if err != nil {
		return nil, err
	}
	return saveSession(req, store, store.Codecs)
}

// opSessionLoad: a CookieStore's Get on a request carrying cookie_header.
func opSessionLoad(req *request) (response, error) {
	store, err := cookieStore(req)
	if err != nil {
		return nil, err
	}
	return loadSession(req, store)
}

// opFsSave is session-save with a FilesystemStore in "dir"; "session_id"
// presets the session's ID.
func opFsSave(req *request) (response, error) {
	store, err := fsStore(req)
	if err != nil {
		return nil, err
	}
	return saveSession(req, store, store.Codecs)
}

// opFsLoad is session-load with a FilesystemStore in "dir".
func opFsLoad(req *request) (response, error) {
	store, err := fsStore(req)
	if err != nil {
		return nil, err
	}
	return loadSession(req, store)
}

func storeKeys(req *request) ([][]byte, error) {
	if len(req.KeyPairs) == 0 {
		return nil, badf("session operations need key_pairs")
	}
	var keys [][]byte
	for i, pair := range req.KeyPairs {
		hashKey, err := keyFromHex(pair.HashKeyHex)
		if err != nil {
			return nil, badf("key_pairs[%d].hash_key_hex: %v", i, err)
		}
		blockKey, err := keyFromHex(pair.BlockKeyHex)
		if err != nil {
			return nil, badf("key_pairs[%d].block_key_hex: %v", i, err)
		}
		keys = append(keys, hashKey, blockKey)
	}
	return keys, nil
}

func cookieStore(req *request) (*sessions.CookieStore, error) {
	keys, err := storeKeys(req)
	if err != nil {
		return nil, err
	}
	store := sessions.NewCookieStore(keys...)
	if err := configureStore(req, store.Options, store.MaxAge, store.Codecs); err != nil {
		return nil, err
	}
	return store, nil
}

func fsStore(req *request) (*sessions.FilesystemStore, error) {
	if req.Dir == "" {
		return nil, badf("filesystem operations need a dir")
	}
	keys, err := storeKeys(req)
	if err != nil {
		return nil, err
	}
	store := sessions.NewFilesystemStore(req.Dir, keys...)
	if err := configureStore(req, store.Options, store.MaxAge, store.Codecs); err != nil {
		return nil, err
	}
	return store, nil
}

// configureStore applies "options", "max_age" (store.MaxAge, which also sets
// every codec's expiry) and the clock ("timestamp" for saves, "now" for loads).
func configureStore(req *request, opts *sessions.Options, maxAge func(int),
	codecs []securecookie.Codec) error {
	if req.MaxAge != nil {
		maxAge(*req.MaxAge)
	}
	if o := req.Options; o != nil {
		if o.MaxAge != nil {
			maxAge(*o.MaxAge)
		}
		if o.Path != nil {
			opts.Path = *o.Path
		}
		if o.Domain != nil {
			opts.Domain = *o.Domain
		}
		if o.Secure != nil {
			opts.Secure = *o.Secure
		}
		if o.HttpOnly != nil {
			opts.HttpOnly = *o.HttpOnly
		}
		if o.SameSite != nil {
			modes := map[string]http.SameSite{"": 0, "default": http.SameSiteDefaultMode,
				"lax": http.SameSiteLaxMode, "strict": http.SameSiteStrictMode,
				"none": http.SameSiteNoneMode}
			mode, found := modes[*o.SameSite]
			if !found {
				return badf("options.same_site: unknown mode %q", *o.SameSite)
			}
			opts.SameSite = mode
		}
	}
	clock := req.Timestamp
	if req.Now != nil {
		clock = req.Now
	}
	if clock != nil {
		for _, c := range codecs {
			sc, isSC := c.(*securecookie.SecureCookie)
			if !isSC {
				return badf("codec is a %T", c)
			}
			if err := setClock(sc, *clock); err != nil {
				return err
			}
		}
	}
	return nil
}

func sessionRequest(req *request) *http.Request {
	r := httptest.NewRequest("GET", "http://example.com/", nil)
	if req.CookieHeader != "" {
		r.Header.Set("Cookie", req.CookieHeader)
	}
	return r
}

func saveSession(req *request, store sessions.Store, codecs []securecookie.Codec) (response, error) {
	r := sessionRequest(req)
	session, loadErr := store.Get(r, req.Name)
	if session == nil {
		return nil, loadErr
	}
	values, err := requestValues(req, true)
	if err != nil {
		return nil, err
	}
	session.Values = values.(map[interface{}]interface{})
	if req.SessionID != nil {
		session.ID = *req.SessionID
	}
	if req.Options != nil && req.Options.MaxAge != nil {
		session.Options.MaxAge = *req.Options.MaxAge
	}
	rec := httptest.NewRecorder()
	if err := session.Save(r, rec); err != nil {
		return nil, err
	}
	resp := response{"set_cookie": rec.Header()["Set-Cookie"], "session_id": session.ID,
		"is_new": session.IsNew, "load_error": errorText(loadErr)}
	for _, c := range (&http.Response{Header: rec.Header()}).Cookies() {
		if c.Name == req.Name {
			resp["cookie"] = c.Value
		}
	}
	return resp, nil
}

func loadSession(req *request, store sessions.Store) (response, error) {
	session, loadErr := store.Get(sessionRequest(req), req.Name)
	if session == nil {
		return nil, loadErr
	}
	return response{"values": typedSession(session.Values), "is_new": session.IsNew,
		"session_id": session.ID, "load_error": errorText(loadErr)}, nil
}

func errorText(err error) interface{} {
	if err == nil {
		return nil
	}
	return err.Error()
}

// requestValues parses the typed "values"; asMap makes it the session map.
func requestValues(req *request, asMap bool) (interface{}, error) {
	if len(req.Values) == 0 {
		return nil, badf("missing \"values\"")
	}
	dec := json.NewDecoder(bytes.NewReader(req.Values))
	dec.UseNumber()
	var doc interface{}
	if err := dec.Decode(&doc); err != nil {
		return nil, badf("values: %v", err)
	}
	value, err := fromTyped(doc)
	if err != nil {
		return nil, err
	}
	if !asMap {
		return value, nil
	}
	switch m := value.(type) {
	case map[interface{}]interface{}:
		return m, nil
	case map[string]interface{}:
		out := make(map[interface{}]interface{}, len(m))
		for k, v := range m {
			out[k] = v
		}
		return out, nil
	}
	return nil, badf("values must be an object or a $map, got %T", value)
}

// ---------------------------------------------------------------------------
// Typed values: JSON <-> Go values with their exact Go types
//
// Dynamic (interface{}) positions: null, booleans, strings as such; an
// integral JSON number is an int, any other number a float64; arrays are
// []interface{}; objects map[string]interface{} ({"$object": {...}} escapes
// an object whose only key starts with "$"). Tags are one-key objects:
// {"$bytes": std base64}, {"$int64": n} and every other basic type name,
// {"$float64": x} (integral, or "NaN", "+Inf", "-Inf", "-0"),
// {"$complex128": [re, im]}, {"$map": [[k, v], ...]} for
// map[interface{}]interface{}, {"$[]string": [...]} and every type in
// knownTypes, {"$time": "RFC3339" | {"unix", "nsec", "offset"}} (offset null
// = time.UTC) and {"$struct": {"type": "*main.Person", "fields": {...}}}.
// Typed positions (slice elements, map entries, struct fields) hold plain
// JSON of that type: numbers, strings, floats as numbers or the special
// strings, []byte as base64, structs as objects of fields, maps with string
// keys as objects, other maps as [[k, v], ...].

func fromTyped(doc interface{}) (interface{}, error) {
	switch d := doc.(type) {
	case nil, bool, string:
		return d, nil
	case json.Number:
		if strings.ContainsAny(d.String(), ".eE") {
			return d.Float64()
		}
		n, err := strconv.ParseInt(d.String(), 10, 0)
		return int(n), err
	case []interface{}:
		out := make([]interface{}, len(d))
		for i, item := range d {
			v, err := fromTyped(item)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case map[string]interface{}:
		if len(d) == 1 {
			for k, v := range d {
				if strings.HasPrefix(k, "$") {
					return fromTag(k, v)
				}
			}
		}
		return objectFrom(d)
	}
	return nil, badf("unexpected JSON value %T", doc)
}

func objectFrom(d map[string]interface{}) (interface{}, error) {
	out := make(map[string]interface{}, len(d))
	for k, item := range d {
		v, err := fromTyped(item)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

func fromTag(tag string, payload interface{}) (interface{}, error) {
	switch tag {
	case "$object":
		obj, ok := payload.(map[string]interface{})
		if !ok {
			return nil, badf("$object needs an object")
		}
		return objectFrom(obj)
	case "$map":
		pairs, ok := payload.([]interface{})
		if !ok {
			return nil, badf("$map needs [[k, v], ...]")
		}
		out := make(map[interface{}]interface{}, len(pairs))
		for _, p := range pairs {
			pair, ok := p.([]interface{})
			if !ok || len(pair) != 2 {
				return nil, badf("$map entries are [k, v]")
			}
			k, err := fromTyped(pair[0])
			if err != nil {
				return nil, err
			}
			v, err := fromTyped(pair[1])
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	case "$bytes":
		text, ok := payload.(string)
		if !ok {
			return nil, badf("$bytes needs a string")
		}
		return base64.StdEncoding.DecodeString(text)
	case "$time":
		v, err := typedValue(payload, timeType)
		if err != nil {
			return nil, err
		}
		return v.Interface(), nil
	case "$struct":
		spec, ok := payload.(map[string]interface{})
		if !ok {
			return nil, badf("$struct needs {type, fields}")
		}
		switch spec["type"] {
		case "*main.Person":
			v, err := typedValue(spec["fields"], reflect.TypeOf(Person{}))
			if err != nil {
				return nil, err
			}
			p := v.Interface().(Person)
			return &p, nil
		case "main.Address":
			v, err := typedValue(spec["fields"], reflect.TypeOf(Address{}))
			if err != nil {
				return nil, err
			}
			return v.Interface(), nil
		}
		return nil, badf("unknown struct type %v", spec["type"])
	}
	rt, found := knownTypes[tag[1:]]
	if !found {
		return nil, badf("unknown tag %q", tag)
	}
	v, err := typedValue(payload, rt)
	if err != nil {
		return nil, err
	}
	return v.Interface(), nil
}

// typedValue builds a value of type rt from its typed-position JSON.
func typedValue(doc interface{}, rt reflect.Type) (reflect.Value, error) {
	v := reflect.New(rt).Elem()
	if doc == nil {
		return v, nil // nil map, slice or interface; zero otherwise
	}
	var err error
	switch rt.Kind() {
	case reflect.Bool:
		b, ok := doc.(bool)
		if !ok {
			return v, badf("%s needs a boolean", rt)
		}
		v.SetBool(b)
	case reflect.String:
		s, ok := doc.(string)
		if !ok {
			return v, badf("%s needs a string", rt)
		}
		v.SetString(s)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var n int64
		if n, err = strconv.ParseInt(numberText(doc), 10, rt.Bits()); err == nil {
			v.SetInt(n)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Uintptr:
		var n uint64
		if n, err = strconv.ParseUint(numberText(doc), 10, rt.Bits()); err == nil {
			v.SetUint(n)
		}
	case reflect.Float32, reflect.Float64:
		var f float64
		if f, err = floatFrom(doc); err == nil {
			v.SetFloat(f)
		}
	case reflect.Complex64, reflect.Complex128:
		parts, ok := doc.([]interface{})
		if !ok || len(parts) != 2 {
			return v, badf("%s needs [re, im]", rt)
		}
		re, err1 := floatFrom(parts[0])
		im, err2 := floatFrom(parts[1])
		if err1 != nil || err2 != nil {
			return v, badf("%s needs numbers", rt)
		}
		v.SetComplex(complex(re, im))
	case reflect.Interface:
		var x interface{}
		if x, err = fromTyped(doc); err == nil && x != nil {
			v.Set(reflect.ValueOf(x))
		}
	case reflect.Slice, reflect.Array:
		if rt.Kind() == reflect.Slice && rt.Elem().Kind() == reflect.Uint8 {
			var raw []byte
			if raw, err = base64.StdEncoding.DecodeString(fmt.Sprint(doc)); err == nil {
				v.SetBytes(raw)
			}
			break
		}
		items, ok := doc.([]interface{})
		if !ok {
			return v, badf("%s needs a list", rt)
		}
		if rt.Kind() == reflect.Slice {
			v = reflect.MakeSlice(rt, len(items), len(items))
		} else if len(items) != rt.Len() {
			return v, badf("%s needs %d items", rt, rt.Len())
		}
		for i, item := range items {
			elem, err := typedValue(item, rt.Elem())
			if err != nil {
				return v, err
			}
			v.Index(i).Set(elem)
		}
	case reflect.Map:
		v = reflect.MakeMap(rt)
		err = fillMap(v, doc, rt)
	case reflect.Struct:
		if rt == timeType {
			var t time.Time
			if t, err = timeFrom(doc); err == nil {
				v.Set(reflect.ValueOf(t))
			}
			break
		}
		fields, ok := doc.(map[string]interface{})
		if !ok {
			return v, badf("%s needs an object of fields", rt)
		}
		for name, item := range fields {
			f := v.FieldByName(name)
			if !f.IsValid() {
				return v, badf("%s has no field %s", rt, name)
			}
			fv, err := typedValue(item, f.Type())
			if err != nil {
				return v, err
			}
			f.Set(fv)
		}
	default:
		return v, badf("unsupported type %s", rt)
	}
	return v, err
}

func fillMap(m reflect.Value, doc interface{}, rt reflect.Type) error {
	if obj, ok := doc.(map[string]interface{}); ok && rt.Key().Kind() == reflect.String {
		for k, item := range obj {
			ev, err := typedValue(item, rt.Elem())
			if err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k).Convert(rt.Key()), ev)
		}
		return nil
	}
	pairs, ok := doc.([]interface{})
	if !ok {
		return badf("%s needs an object or [[k, v], ...]", rt)
	}
	for _, p := range pairs {
		pair, ok := p.([]interface{})
		if !ok || len(pair) != 2 {
			return badf("map entries are [k, v]")
		}
		kv, err := typedValue(pair[0], rt.Key())
		if err != nil {
			return err
		}
		ev, err := typedValue(pair[1], rt.Elem())
		if err != nil {
			return err
		}
		m.SetMapIndex(kv, ev)
	}
	return nil
}

func numberText(doc interface{}) string {
	if n, ok := doc.(json.Number); ok {
		return n.String()
	}
	return fmt.Sprint(doc)
}

func floatFrom(doc interface{}) (float64, error) {
	switch d := doc.(type) {
	case json.Number:
		return d.Float64()
	case string:
		switch d {
		case "NaN":
			return math.NaN(), nil
		case "+Inf":
			return math.Inf(1), nil
		case "-Inf":
			return math.Inf(-1), nil
		case "-0":
			return math.Copysign(0, -1), nil
		}
		return strconv.ParseFloat(d, 64)
	}
	return 0, badf("not a float: %v", doc)
}

func timeFrom(doc interface{}) (time.Time, error) {
	if tagged, ok := doc.(map[string]interface{}); ok && len(tagged) == 1 {
		if inner, found := tagged["$time"]; found {
			doc = inner
		}
	}
	if text, ok := doc.(string); ok {
		return time.Parse(time.RFC3339Nano, text)
	}
	spec, ok := doc.(map[string]interface{})
	if !ok {
		return time.Time{}, badf("$time needs RFC 3339 text or {unix, nsec, offset}")
	}
	unix, err1 := strconv.ParseInt(numberText(spec["unix"]), 10, 64)
	nsec, err2 := strconv.ParseInt(numberText(spec["nsec"]), 10, 64)
	if err1 != nil || err2 != nil {
		return time.Time{}, badf("$time: bad unix or nsec")
	}
	t := time.Unix(unix, nsec)
	if spec["offset"] == nil {
		return t.UTC(), nil
	}
	offset, err := strconv.Atoi(numberText(spec["offset"]))
	if err != nil {
		return time.Time{}, badf("$time: bad offset")
	}
	return t.In(time.FixedZone("", offset)), nil
}

// typedSession renders a session map: an object when every key is a string
// (escaped as in toTyped), else {"$map": pairs}.
func typedSession(values map[interface{}]interface{}) interface{} {
	obj := map[string]interface{}{}
	for k, v := range values {
		s, isString := k.(string)
		if !isString {
			return toTyped(values)
		}
		obj[s] = v
	}
	return toTyped(obj)
}

func tagged(tag string, payload interface{}) interface{} {
	return map[string]interface{}{tag: payload}
}

// toTyped renders a value found in an interface{}.
func toTyped(v interface{}) interface{} {
	switch x := v.(type) {
	case nil:
		return nil
	case bool, string, int:
		return x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) || x == math.Trunc(x) {
			return tagged("$float64", floatDoc(x))
		}
		return x
	case []byte:
		return tagged("$bytes", base64.StdEncoding.EncodeToString(x))
	case []interface{}:
		out := make([]interface{}, len(x))
		for i, item := range x {
			out[i] = toTyped(item)
		}
		return out
	case map[string]interface{}:
		out := make(map[string]interface{}, len(x))
		for k, item := range x {
			out[k] = toTyped(item)
		}
		if len(x) == 1 {
			for k := range x {
				if strings.HasPrefix(k, "$") {
					return tagged("$object", out)
				}
			}
		}
		return out
	case map[interface{}]interface{}:
		pairs := make([][2]interface{}, 0, len(x))
		for k, item := range x {
			pairs = append(pairs, [2]interface{}{toTyped(k), toTyped(item)})
		}
		return tagged("$map", sortPairs(pairs))
	case time.Time:
		return tagged("$time", timeDoc(x))
	case *Person:
		return tagged("$struct", map[string]interface{}{"type": "*main.Person",
			"fields": typedOut(reflect.ValueOf(*x))})
	case Address:
		return tagged("$struct", map[string]interface{}{"type": "main.Address",
			"fields": typedOut(reflect.ValueOf(x))})
	}
	rv := reflect.ValueOf(v)
	return tagged("$"+rv.Type().String(), typedOut(rv))
}

// typedOut renders a value whose type is known from its position.
func typedOut(rv reflect.Value) interface{} {
	switch rv.Kind() {
	case reflect.Bool:
		return rv.Bool()
	case reflect.String:
		return rv.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Uintptr:
		return rv.Uint()
	case reflect.Float32, reflect.Float64:
		return floatDoc(rv.Float())
	case reflect.Complex64, reflect.Complex128:
		c := rv.Complex()
		return []interface{}{floatDoc(real(c)), floatDoc(imag(c))}
	case reflect.Interface, reflect.Ptr:
		if rv.IsNil() {
			return nil
		}
		if rv.Kind() == reflect.Ptr {
			return typedOut(rv.Elem())
		}
		return toTyped(rv.Interface())
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			return base64.StdEncoding.EncodeToString(rv.Bytes())
		}
		out := make([]interface{}, rv.Len())
		for i := range out {
			out[i] = typedOut(rv.Index(i))
		}
		return out
	case reflect.Map:
		if rv.IsNil() {
			return nil
		}
		if rv.Type().Key().Kind() == reflect.String {
			out := map[string]interface{}{}
			for _, k := range rv.MapKeys() {
				out[k.String()] = typedOut(rv.MapIndex(k))
			}
			return out
		}
		pairs := make([][2]interface{}, 0, rv.Len())
		for _, k := range rv.MapKeys() {
			pairs = append(pairs, [2]interface{}{typedOut(k), typedOut(rv.MapIndex(k))})
		}
		return sortPairs(pairs)
	case reflect.Struct:
		if rv.Type() == timeType {
			return tagged("$time", timeDoc(rv.Interface().(time.Time)))
		}
		out := map[string]interface{}{}
		for i := 0; i < rv.NumField(); i++ {
			if f := rv.Type().Field(i); f.IsExported() {
				out[f.Name] = typedOut(rv.Field(i))
			}
		}
		return out
	}
	return fmt.Sprintf("<unsupported %s>", rv.Type())
}

func floatDoc(f float64) interface{} {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case f == 0 && math.Signbit(f):
		return "-0"
	}
	return f
}

func timeDoc(t time.Time) interface{} {
	var offset interface{}
	if t.Location() != time.UTC {
		_, off := t.Zone()
		offset = off
	}
	return map[string]interface{}{"unix": t.Unix(), "nsec": t.Nanosecond(), "offset": offset}
}

// sortPairs orders [key, value] pairs by the JSON text of the key.
func sortPairs(pairs [][2]interface{}) []interface{} {
	keys := make([]string, len(pairs))
	for i, p := range pairs {
		text, _ := json.Marshal(p[0])
		keys[i] = string(text)
	}
	index := make([]int, len(pairs))
	for i := range index {
		index[i] = i
	}
	sort.Slice(index, func(a, b int) bool { return keys[index[a]] < keys[index[b]] })
	out := make([]interface{}, len(pairs))
	for i, j := range index {
		out[i] = []interface{}{pairs[j][0], pairs[j][1]}
	}
	return out
}
