// helm-render renders a Helm chart the way `helm template` does, for checking a chart where no helm binary
// exists: Go text/template with Helm's function set (sprig plus include, tpl, toYaml, fromYaml, required),
// .Values from values.yaml merged with any -f files, .Chart from Chart.yaml, .Release, and .Files.Get.
// It prints every rendered manifest as a YAML stream ("# Source:" comments like helm), NOTES.txt excluded
// unless -notes is given. It covers what the Granary chart uses; it is not a full Helm.
//
// Build (Debian packages golang-go, golang-github-masterminds-sprig-dev, golang-gopkg-yaml.v3-dev):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o helm-render ./tools/helm-render
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v3"
)

type valueFiles []string

func (v *valueFiles) String() string     { return strings.Join(*v, ",") }
func (v *valueFiles) Set(s string) error { *v = append(*v, s); return nil }

// Files is .Files: chart files by path relative to the chart root.
type Files map[string][]byte

func (f Files) Get(name string) string { return string(f[name]) }

func main() {
	var extra valueFiles
	flag.Var(&extra, "f", "values file merged over values.yaml (repeatable)")
	release := flag.String("name", "granary", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	notes := flag.Bool("notes", false, "print the rendered NOTES.txt instead of the manifests")
	managedBy := flag.String("managed-by", "Helm", ".Release.Service (the app.kubernetes.io/managed-by label)")
	outDir := flag.String("out", "", "write each template's manifest to DIR/TEMPLATE (no # Source line) instead of stdout")
	flag.Parse()
	if flag.NArg() != 1 {
		fail("usage: helm-render [-f values.yaml]... [-name NAME] [-namespace NS] [-managed-by WHO] [-notes] [-out DIR] CHART_DIR")
	}
	manifests, err := render(flag.Arg(0), extra, *release, *namespace, *managedBy, *notes)
	if err != nil {
		fail(err.Error())
	}
	for _, m := range manifests {
		if *outDir == "" {
			if *notes {
				fmt.Print(m.text)
			} else {
				fmt.Printf("---\n# Source: %s\n%s\n", m.source, m.text)
			}
			continue
		}
		path := filepath.Join(*outDir, filepath.Base(m.source))
		if err := os.WriteFile(path, []byte(m.text+"\n"), 0o644); err != nil {
			fail(err.Error())
		}
	}
}

type manifest struct {
	source string // chart/templates/NAME
	text   string
}

func fail(message string) {
	fmt.Fprintln(os.Stderr, "helm-render: "+message)
	os.Exit(1)
}

func render(chartDir string, extra []string, release, namespace, managedBy string, notes bool) ([]manifest, error) {
	chart, err := readYaml(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	values, err := readYaml(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return nil, err
	}
	for _, file := range extra {
		override, err := readYaml(file)
		if err != nil {
			return nil, err
		}
		values = merge(values, override)
	}
	files, err := readFiles(chartDir)
	if err != nil {
		return nil, err
	}
	data := map[string]interface{}{
		"Values":   values,
		"Chart":    map[string]interface{}{"Name": chart["name"], "Version": chart["version"], "AppVersion": chart["appVersion"]},
		"Release":  map[string]interface{}{"Name": release, "Namespace": namespace, "Service": managedBy, "IsInstall": true, "Revision": 1},
		"Files":    files,
		"Template": map[string]interface{}{"BasePath": "granary/templates"},
	}

	root := template.New("chart").Option("missingkey=zero")
	root.Funcs(functions(root))
	var names []string
	for name := range files {
		if strings.HasPrefix(name, "templates/") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if _, err := root.New(name).Parse(string(files[name])); err != nil {
			return nil, err
		}
	}

	var out []manifest
	for _, name := range names {
		base := filepath.Base(name)
		isNotes := base == "NOTES.txt"
		if strings.HasPrefix(base, "_") || isNotes != notes || (!isNotes && !strings.HasSuffix(base, ".yaml")) {
			continue
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			return nil, err
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		if strings.TrimSpace(text) == "" {
			continue
		}
		if !notes {
			text = strings.TrimSpace(text)
		}
		out = append(out, manifest{fmt.Sprintf("%s/%s", chart["name"], name), text})
	}
	return out, nil
}

func functions(root *template.Template) template.FuncMap {
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["include"] = func(name string, data interface{}) (string, error) {
		var buf bytes.Buffer
		err := root.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		err = t.Execute(&buf, data)
		return buf.String(), err
	}
	funcs["toYaml"] = func(v interface{}) string {
		var buf bytes.Buffer
		encoder := yaml.NewEncoder(&buf)
		encoder.SetIndent(2)
		if err := encoder.Encode(v); err != nil {
			return ""
		}
		return strings.TrimSuffix(buf.String(), "\n")
	}
	funcs["fromYaml"] = func(text string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(text), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["required"] = func(message string, v interface{}) (interface{}, error) {
		if v == nil || v == "" {
			return nil, fmt.Errorf("%s", message)
		}
		return v, nil
	}
	return funcs
}

func readYaml(path string) (map[string]interface{}, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(text, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return m, nil
}

func readFiles(chartDir string) (Files, error) {
	files := Files{}
	err := filepath.Walk(chartDir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, err := filepath.Rel(chartDir, path)
		if err != nil {
			return err
		}
		text, err := os.ReadFile(path)
		files[filepath.ToSlash(rel)] = text
		return err
	})
	return files, err
}

// merge overlays b on a the way Helm merges values files: maps merge key by key, anything else replaces.
func merge(a, b map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]interface{}); ok {
			if am, ok := out[k].(map[string]interface{}); ok {
				out[k] = merge(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}
