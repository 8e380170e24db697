// Package schematest compiles the schemas of package schemas for tests:
// draft 2020-12 with format assertions on and the sendgate "maxBytes"
// keyword (the byte length of a string, which maxLength cannot express)
// enforced. It is imported only by tests.
package schematest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/message"

	"github.com/sendgate/sendgate/schemas"
)

// Schemas are the compiled schemas keyed by file name (schemas.All).
type Schemas map[string]*jsonschema.Schema

// Compile compiles every schema in schemas.FS.
func Compile() (Schemas, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.AssertVocabs()
	c.RegisterVocabulary(maxBytesVocab())
	for _, name := range schemas.All {
		b, err := schemas.FS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if err := c.AddResource(name, doc); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	out := Schemas{}
	for _, name := range schemas.All {
		sch, err := c.Compile(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = sch
	}
	return out, nil
}

// Validate validates the JSON value b against the schema named name. A
// value that is not JSON is an error too.
func (s Schemas) Validate(name string, b []byte) error {
	sch, ok := s[name]
	if !ok {
		return fmt.Errorf("schematest: no schema %q", name)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return sch.Validate(inst)
}

// maxBytesURL names the vocabulary of the maxBytes keyword.
const maxBytesURL = "https://github.com/sendgate/sendgate/schemas/vocab/max-bytes"

func maxBytesVocab() *jsonschema.Vocabulary {
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(`{"properties":{"maxBytes":{"type":"integer","minimum":0}}}`))
	if err != nil {
		panic(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(maxBytesURL, doc); err != nil {
		panic(err)
	}
	sch, err := c.Compile(maxBytesURL)
	if err != nil {
		panic(err)
	}
	return &jsonschema.Vocabulary{URL: maxBytesURL, Schema: sch, Compile: compileMaxBytes}
}

func compileMaxBytes(_ *jsonschema.CompilerContext, obj map[string]any) (jsonschema.SchemaExt, error) {
	v, ok := obj["maxBytes"]
	if !ok {
		return nil, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return nil, fmt.Errorf("maxBytes: not a number: %v", v)
	}
	i, err := strconv.Atoi(string(n))
	if err != nil {
		return nil, fmt.Errorf("maxBytes: %w", err)
	}
	return maxBytes(i), nil
}

// maxBytes is the compiled keyword: a string may have at most that many
// bytes of UTF-8.
type maxBytes int

func (m maxBytes) Validate(ctx *jsonschema.ValidatorContext, v any) {
	if s, ok := v.(string); ok && len(s) > int(m) {
		ctx.AddError(&maxBytesError{Got: len(s), Want: int(m)})
	}
}

type maxBytesError struct{ Got, Want int }

func (*maxBytesError) KeywordPath() []string { return []string{"maxBytes"} }

func (e *maxBytesError) LocalizedString(p *message.Printer) string {
	return p.Sprintf("maxBytes: got %d bytes, want at most %d", e.Got, e.Want)
}
