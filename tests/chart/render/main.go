// render: a small, test-only stand-in for `helm template`, enough to render
// charts/corefork in tests on machines that have no helm binary.
//
// It does what Helm 3's engine does for the features the chart uses:
//   - Chart.yaml kubeVersion: refused, as Helm does, when -kube-version is
//     outside its range;
//   - values: values.yaml, then every -f FILE coalesced over it (maps merge
//     deeply, lists and scalars are replaced, a null deletes the key); numbers
//     become float64 as with Helm (values pass through JSON);
//   - values.schema.json: the merged values are validated with gojsonschema,
//     the library Helm 3 uses, and refused with Helm's message before
//     anything is rendered; -schema-validator CMD adds an external validator
//     (run as CMD SCHEMA VALUES_JSON; non-zero exit = refused);
//   - templates: Go text/template + sprig (without env/expandenv) + include,
//     tpl, required, toYaml, fromYaml, fromYamlArray, toJson, fromJson,
//     fromJsonArray, lookup; missingkey=zero ("<no value>" removed) or, with
//     -strict, missingkey=error; .Values .Release .Chart .Capabilities
//     .Template;
//   - output: every rendered manifest as "---\n# Source: NAME\n...", split on
//     "---", empty ones dropped, sorted by Helm's install order; each must
//     parse as YAML. NOTES.txt is rendered to -notes-out.
//
// Usage: render -chart DIR [-f values.yaml]... [-name R] [-namespace NS]
//
//	[-strict] [-o FILE] [-notes-out FILE] [-values-out FILE]
//	[-schema-validator "CMD ARGS"] [-api-versions monitoring.coreos.com/v1,...]
//	[-kube-version v1.29.0]
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/semver/v3"
	"github.com/Masterminds/sprig/v3"
	"github.com/xeipuuv/gojsonschema"
	yaml "gopkg.in/yaml.v2"
)

// Values is the type of .Values, as chartutil.Values is in Helm (a named
// map type: sprig's dig and friends do not accept it, only nested maps).
type Values map[string]interface{}

// Metadata mirrors Helm's chart.Metadata (.Chart).
type Metadata struct {
	Name         string            `yaml:"name"`
	Home         string            `yaml:"home"`
	Sources      []string          `yaml:"sources"`
	Version      string            `yaml:"version"`
	Description  string            `yaml:"description"`
	Keywords     []string          `yaml:"keywords"`
	Maintainers  []interface{}     `yaml:"maintainers"`
	Icon         string            `yaml:"icon"`
	APIVersion   string            `yaml:"apiVersion"`
	Condition    string            `yaml:"condition"`
	Tags         string            `yaml:"tags"`
	AppVersion   string            `yaml:"appVersion"`
	Deprecated   bool              `yaml:"deprecated"`
	Annotations  map[string]string `yaml:"annotations"`
	KubeVersion  string            `yaml:"kubeVersion"`
	Dependencies []interface{}     `yaml:"dependencies"`
	Type         string            `yaml:"type"`
}

// KubeVersion mirrors chartutil.KubeVersion.
type KubeVersion struct {
	Version string
	Major   string
	Minor   string
}

func (k KubeVersion) String() string     { return k.Version }
func (k KubeVersion) GitVersion() string { return k.Version }

// VersionSet mirrors chartutil.VersionSet.
type VersionSet []string

// Has tells whether an API version ("monitoring.coreos.com/v1" or
// "monitoring.coreos.com/v1/ServiceMonitor") is known.
func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

// Capabilities mirrors chartutil.Capabilities.
type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
	HelmVersion map[string]string
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(s string) error { *m = append(*m, s); return nil }

func main() {
	var valueFiles multiFlag
	chartDir := flag.String("chart", "", "chart directory")
	flag.Var(&valueFiles, "f", "values file (repeatable; later files win)")
	name := flag.String("name", "release-name", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	strict := flag.Bool("strict", false, "missingkey=error (a reference to an absent value fails)")
	out := flag.String("o", "", "write the manifests here (default stdout)")
	notesOut := flag.String("notes-out", "", "write the rendered NOTES.txt here")
	valuesOut := flag.String("values-out", "", "write the merged values here as JSON")
	validator := flag.String("schema-validator", "", "extra command that validates values against values.schema.json: CMD SCHEMA VALUES_JSON")
	kubeVersion := flag.String("kube-version", "v1.29.0", "Capabilities.KubeVersion")
	apiVersions := flag.String("api-versions", "", "extra Capabilities.APIVersions, comma separated")
	flag.Parse()
	if *chartDir == "" {
		fmt.Fprintln(os.Stderr, "usage: render -chart DIR [-f values.yaml]...")
		os.Exit(2)
	}
	err := run(*chartDir, valueFiles, *name, *namespace, *strict, *out, *notesOut,
		*valuesOut, *validator, *kubeVersion, *apiVersions)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error: "+err.Error())
		os.Exit(1)
	}
}

func run(chartDir string, valueFiles []string, name, namespace string, strict bool,
	out, notesOut, valuesOut, validator, kubeVersion, apiVersions string) error {
	meta, err := loadChartYaml(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return err
	}
	vals, err := readValuesFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return err
	}
	for _, f := range valueFiles {
		override, err := readValuesFile(f)
		if err != nil {
			return err
		}
		coalesce(vals, override)
	}
	valuesJSON, err := json.MarshalIndent(vals, "", "  ")
	if err != nil {
		return err
	}
	if valuesOut != "" {
		if err := os.WriteFile(valuesOut, valuesJSON, 0o644); err != nil {
			return err
		}
	}
	// Helm refuses a chart whose kubeVersion range excludes the cluster's
	// (chartutil.IsCompatibleRange), with this message, before it looks at the
	// values (they are written above all the same, for the tests).
	if meta.KubeVersion != "" {
		c, err := semver.NewConstraint(meta.KubeVersion)
		if err != nil {
			return fmt.Errorf("Chart.yaml: kubeVersion %q: %v", meta.KubeVersion, err)
		}
		v, err := semver.NewVersion(kubeVersion)
		if err != nil || !c.Check(v) {
			return fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", meta.KubeVersion, kubeVersion)
		}
	}
	schema := filepath.Join(chartDir, "values.schema.json")
	if schemaJSON, err := os.ReadFile(schema); err == nil {
		if err := validateLikeHelm(schemaJSON, valuesJSON, meta.Name); err != nil {
			return err
		}
		if validator != "" {
			if err := validate(validator, schema, valuesJSON, meta.Name); err != nil {
				return err
			}
		}
	}

	files, err := loadTemplates(chartDir, meta.Name)
	if err != nil {
		return err
	}
	major, minor := splitKubeVersion(kubeVersion)
	caps := &Capabilities{
		KubeVersion: KubeVersion{Version: kubeVersion, Major: major, Minor: minor},
		APIVersions: defaultAPIVersions(),
		HelmVersion: map[string]string{"Version": "v3.14.0"},
	}
	for _, v := range strings.Split(apiVersions, ",") {
		if v = strings.TrimSpace(v); v != "" {
			caps.APIVersions = append(caps.APIVersions, v)
		}
	}
	top := map[string]interface{}{
		"Values": Values(vals),
		"Release": map[string]interface{}{
			"Name": name, "Namespace": namespace, "Revision": 1,
			"IsUpgrade": false, "IsInstall": true, "Service": "Helm",
		},
		"Chart":        meta,
		"Capabilities": caps,
		"Files":        map[string]interface{}{},
	}
	rendered, err := renderAll(files, top, strict, meta.Name)
	if err != nil {
		return err
	}

	var manifests []manifest
	var notes string
	names := make([]string, 0, len(rendered))
	for n := range rendered {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.HasSuffix(n, "/NOTES.txt") {
			notes = rendered[n]
			continue
		}
		for _, doc := range splitManifests(rendered[n]) {
			m, err := parseHead(n, doc)
			if err != nil {
				return err
			}
			manifests = append(manifests, m)
		}
	}
	sortByInstallOrder(manifests)
	var buf bytes.Buffer
	for _, m := range manifests {
		fmt.Fprintf(&buf, "---\n# Source: %s\n%s\n", m.source, m.content)
	}
	if out == "" {
		os.Stdout.Write(buf.Bytes())
	} else if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	if notesOut != "" {
		if err := os.WriteFile(notesOut, []byte(notes), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func loadChartYaml(file string) (*Metadata, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var m Metadata
	if err := yaml.UnmarshalStrict(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	if m.Name == "" || m.Version == "" || m.APIVersion == "" {
		return nil, fmt.Errorf("%s: name, version and apiVersion are required", file)
	}
	return &m, nil
}

// readValuesFile reads YAML the way Helm does (through JSON: numbers end up
// as float64, keys as strings).
func readValuesFile(file string) (map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	v, err := yamlToJSONValue(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	if v == nil {
		return map[string]interface{}{}, nil
	}
	m, ok := v.(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("%s: the top level must be a map", file)
	}
	return m, nil
}

func yamlToJSONValue(data []byte) (interface{}, error) {
	var raw interface{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	j, err := json.Marshal(jsonable(raw))
	if err != nil {
		return nil, err
	}
	var v interface{}
	if err := json.Unmarshal(j, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// jsonable turns yaml.v2's map[interface{}]interface{} into JSON-friendly maps.
func jsonable(v interface{}) interface{} {
	switch x := v.(type) {
	case map[interface{}]interface{}:
		m := make(map[string]interface{}, len(x))
		for k, val := range x {
			m[fmt.Sprint(k)] = jsonable(val)
		}
		return m
	case []interface{}:
		l := make([]interface{}, len(x))
		for i, val := range x {
			l[i] = jsonable(val)
		}
		return l
	default:
		return v
	}
}

// coalesce merges src over dst as Helm does for user-supplied values.
func coalesce(dst, src map[string]interface{}) {
	for k, sv := range src {
		if sv == nil {
			delete(dst, k)
			continue
		}
		dm, dIsMap := dst[k].(map[string]interface{})
		sm, sIsMap := sv.(map[string]interface{})
		if dIsMap && sIsMap {
			coalesce(dm, sm)
			continue
		}
		dst[k] = sv
	}
}

// validateLikeHelm is chartutil.ValidateAgainstSingleSchema.
func validateLikeHelm(schemaJSON, valuesJSON []byte, chartName string) error {
	result, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(schemaJSON), gojsonschema.NewBytesLoader(valuesJSON))
	if err != nil {
		return fmt.Errorf("%s: values.schema.json: %v", chartName, err)
	}
	if result.Valid() {
		return nil
	}
	var sb strings.Builder
	for _, desc := range result.Errors() {
		fmt.Fprintf(&sb, "- %s\n", desc)
	}
	return fmt.Errorf("values don't meet the specifications of the schema(s) in the following chart(s):\n%s:\n%s",
		chartName, sb.String())
}

func validate(validator, schema string, valuesJSON []byte, chartName string) error {
	tmp, err := os.CreateTemp("", "values-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(valuesJSON); err != nil {
		return err
	}
	tmp.Close()
	argv := strings.Fields(validator)
	cmd := exec.Command(argv[0], append(argv[1:], schema, tmp.Name())...)
	var msg bytes.Buffer
	cmd.Stdout = &msg
	cmd.Stderr = &msg
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return fmt.Errorf("schema validator: %v", err)
		}
		return fmt.Errorf("values don't meet the specifications of the schema(s) in the following chart(s):\n%s:\n%s",
			chartName, strings.TrimRight(msg.String(), "\n"))
	}
	return nil
}

// loadTemplates reads templates/** keyed "CHART/templates/REL".
func loadTemplates(chartDir, chartName string) (map[string]string, error) {
	files := map[string]string{}
	root := filepath.Join(chartDir, "templates")
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, err := filepath.Rel(chartDir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files[path.Join(chartName, filepath.ToSlash(rel))] = string(data)
		return nil
	})
	return files, err
}

func funcMap(t **template.Template, strict bool) template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	f["toYaml"] = func(v interface{}) string {
		s, err := toYaml(v)
		if err != nil {
			return ""
		}
		return s
	}
	f["mustToYaml"] = toYaml
	f["fromYaml"] = func(s string) map[string]interface{} {
		v, err := yamlToJSONValue([]byte(s))
		if err != nil {
			return map[string]interface{}{"Error": err.Error()}
		}
		m, ok := v.(map[string]interface{})
		if !ok {
			if v == nil {
				return map[string]interface{}{}
			}
			return map[string]interface{}{"Error": "not a map"}
		}
		return m
	}
	f["fromYamlArray"] = func(s string) []interface{} {
		v, err := yamlToJSONValue([]byte(s))
		if err != nil {
			return []interface{}{err.Error()}
		}
		l, _ := v.([]interface{})
		return l
	}
	f["toJson"] = func(v interface{}) string {
		b, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(b)
	}
	f["mustToJson"] = func(v interface{}) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	}
	f["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["fromJsonArray"] = func(s string) []interface{} {
		var l []interface{}
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			return []interface{}{err.Error()}
		}
		return l
	}
	depth := 0
	f["include"] = func(name string, data interface{}) (string, error) {
		depth++
		defer func() { depth-- }()
		if depth > 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		var buf strings.Builder
		if err := (*t).ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	tplCount := 0
	f["tpl"] = func(text string, vals interface{}) (string, error) {
		clone, err := (*t).Clone()
		if err != nil {
			return "", err
		}
		tplCount++
		nt, err := clone.New(fmt.Sprintf("tpl-%d", tplCount)).Parse(text)
		if err != nil {
			return "", fmt.Errorf("cannot parse template %q: %v", text, err)
		}
		var buf strings.Builder
		if err := nt.Execute(&buf, vals); err != nil {
			return "", err
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	f["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return v, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return v, errors.New(msg)
		}
		return v, nil
	}
	f["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	return f
}

// toYaml is Helm's: JSON first, then YAML (sigs.k8s.io/yaml over yaml.v2),
// so keys come out sorted and the trailing newline is trimmed.
func toYaml(v interface{}) (string, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var obj interface{}
	if err := yaml.Unmarshal(j, &obj); err != nil {
		return "", err
	}
	b, err := yaml.Marshal(obj)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(b), "\n"), nil
}

// Helm reports fail/required as "execution error at (FILE:LINE:COL): MSG".
var (
	execLocRe = regexp.MustCompile(`^template: ([^:]+:\d+:\d+): `)
	execMsgRe = regexp.MustCompile(`(?s)error calling (?:fail|required): (.*)$`)
)

func renderAll(files map[string]string, top map[string]interface{}, strict bool, chartName string) (map[string]string, error) {
	var t *template.Template
	t = template.New("gotpl")
	if strict {
		t.Option("missingkey=error")
	} else {
		t.Option("missingkey=zero")
	}
	t.Funcs(funcMap(&t, strict))
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, err := t.New(n).Parse(files[n]); err != nil {
			return nil, fmt.Errorf("parse error at (%s): %v", n, err)
		}
	}
	out := map[string]string{}
	for _, n := range names {
		base := path.Base(n)
		if strings.HasPrefix(base, "_") {
			continue // partials
		}
		data := map[string]interface{}{}
		for k, v := range top {
			data[k] = v
		}
		data["Template"] = map[string]interface{}{
			"Name": n, "BasePath": path.Join(chartName, "templates"),
		}
		var buf strings.Builder
		if err := t.ExecuteTemplate(&buf, n, data); err != nil {
			msg := err.Error()
			loc := execLocRe.FindStringSubmatch(msg)
			if m := execMsgRe.FindStringSubmatch(msg); loc != nil && m != nil {
				return nil, fmt.Errorf("execution error at (%s): %s", loc[1], m[1])
			}
			return nil, errors.New(msg)
		}
		out[n] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	return out, nil
}

type manifest struct {
	source  string
	content string
	kind    string
	name    string
}

var sepRe = regexp.MustCompile(`(?:^|\s*\n)---\s*`)

func splitManifests(s string) []string {
	var docs []string
	for _, d := range sepRe.Split(s, -1) {
		if d = strings.TrimSpace(d); d != "" {
			docs = append(docs, d)
		}
	}
	return docs
}

func parseHead(source, doc string) (manifest, error) {
	var head struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
	}
	if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
		return manifest{}, fmt.Errorf("YAML parse error on %s: %v\n--- the document:\n%s", source, err, numbered(doc))
	}
	return manifest{source: source, content: doc, kind: head.Kind, name: head.Metadata.Name}, nil
}

func numbered(doc string) string {
	var b strings.Builder
	for i, l := range strings.Split(doc, "\n") {
		fmt.Fprintf(&b, "%4d  %s\n", i+1, l)
	}
	return b.String()
}

// Helm's releaseutil.InstallOrder.
var installOrder = []string{
	"PriorityClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange",
	"PodSecurityPolicy", "PodDisruptionBudget", "ServiceAccount", "Secret",
	"SecretList", "ConfigMap", "StorageClass", "PersistentVolume",
	"PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole",
	"ClusterRoleList", "ClusterRoleBinding", "ClusterRoleBindingList", "Role",
	"RoleList", "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod",
	"ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler",
	"StatefulSet", "Job", "CronJob", "IngressClass", "Ingress", "APIService",
}

func sortByInstallOrder(ms []manifest) {
	rank := map[string]int{}
	for i, k := range installOrder {
		rank[k] = i
	}
	order := func(k string) int {
		if r, ok := rank[k]; ok {
			return r
		}
		return len(installOrder)
	}
	sort.SliceStable(ms, func(i, j int) bool {
		ri, rj := order(ms[i].kind), order(ms[j].kind)
		if ri != rj {
			return ri < rj
		}
		if ri == len(installOrder) && ms[i].kind != ms[j].kind {
			return ms[i].kind < ms[j].kind
		}
		return false
	})
}

func splitKubeVersion(v string) (string, string) {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 {
		return "1", "29"
	}
	return parts[0], parts[1]
}

func defaultAPIVersions() VersionSet {
	return VersionSet{
		"v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v1", "autoscaling/v2",
		"networking.k8s.io/v1", "rbac.authorization.k8s.io/v1",
		"apiextensions.k8s.io/v1", "storage.k8s.io/v1", "coordination.k8s.io/v1",
	}
}
