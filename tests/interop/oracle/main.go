// Command oracle is sessionspec's interoperability oracle: a long-running
// process that answers questions about what the real Go gorilla/securecookie
// library does, so the Python tests can compare our port against it.
//
// It reads one JSON request per line on stdin and writes exactly one JSON
// response per line on stdout, in order. See tests/interop/README.md for the
// protocol. The library is used unmodified; the only trick is that the
// codec's unexported clock is set through reflection when a request carries
// a "timestamp".
//
// Build it in GOPATH mode against the Debian packages (no downloads):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o oracle .
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"unsafe"

	"github.com/gorilla/securecookie"
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
	"ping":   opPing,
	"encode": opEncode,
	"decode": opDecode,
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
