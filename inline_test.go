package gate

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// promisesInlining matches a doc comment that says its own function is
// inlined, promisesCaller one that says another function (a fast path, named
// in the comment) can be inlined because this one is outlined, and
// deniesInlining one that says it is not inlined.
var (
	promisesInlining = regexp.MustCompile(`(?i)\b(?:is|are|gets|get|stays?) inlined\b|\benough to be inlined\b|\binlines\b|\bfits? the inlin|\binlinable\b`)
	promisesCaller   = regexp.MustCompile(`(?i)so that (.+?) (?:can|may|will) (?:be|stay) inlined`)
	deniesInlining   = regexp.MustCompile(`(?i)\bnot (be )?inlin|\bnever inlin|\bcannot be inlin|\bwon't inline|\bwill not inline|\bdoes not inline|\bdo not inline`)
	identifier       = regexp.MustCompile(`^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?$`)
	canInline        = regexp.MustCompile(`can inline (?:gate\.)?(\S+)`)
	inlinedCall      = regexp.MustCompile(`inlining call to (?:gate\.)?(\S+)`)
	shape            = regexp.MustCompile(`\[[^\]]*\]`)
)

// TestInliningPromises keeps the comments about inlining true: every function
// whose doc comment says it is inlined must be reported inlinable by the
// compiler (go build -gcflags=-m over testdata/inline, which instantiates
// every generic type), and so must the fast paths listed below, which the
// package's speed rests on. When the compiler stops inlining one, this test
// fails, and the code or the comment must change.
func TestInliningPromises(t *testing.T) {
	out, err := exec.Command("go", "build", "-o", os.DevNull,
		"-gcflags=github.com/gophergate/gate=-m", "-gcflags=-m", "./testdata/inline").CombinedOutput()
	if err != nil {
		t.Fatalf("go build -gcflags=-m: %v\n%s", err, out)
	}
	// An exported function is inlined into its users' code if the compiler
	// can inline it; an unexported one must also be inlined where gate
	// calls it.
	inlinable, inlined := map[string]bool{}, map[string]bool{}
	for _, m := range canInline.FindAllStringSubmatch(string(out), -1) {
		inlinable[shape.ReplaceAllString(m[1], "")] = true
	}
	for _, m := range inlinedCall.FindAllStringSubmatch(string(out), -1) {
		inlined[shape.ReplaceAllString(m[1], "")] = true
	}

	promised := map[string]string{ // the fast paths, whatever their comments say
		"(*sem).acquireFast":  "the fast path of every acquire",
		"(*sem).releaseFast":  "the fast path of every release",
		"(*Permit).Release":   "Permit.Release",
		"(*Mutex).Unlock":     "Mutex.Unlock",
		"(*RWMutex).RUnlock":  "RWMutex.RUnlock",
		"(*waitQueue).notify": "the wakers' check for waiters",
	}
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi os.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range pkgs["gate"].Files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Doc == nil {
				continue
			}
			doc := strings.Join(strings.Fields(fd.Doc.Text()), " ")
			where := fset.Position(fd.Pos()).String()
			if deniesInlining.MatchString(doc) {
				continue
			}
			if promisesInlining.MatchString(doc) {
				promised[funcName(fd)] = where
			}
			if m := promisesCaller.FindStringSubmatch(doc); m != nil {
				if !identifier.MatchString(m[1]) {
					t.Errorf("%s: the comment promises that %q can be inlined: name the function, so that this test can check it", where, m[1])
					continue
				}
				promised[calleeName(fd, m[1])] = where
			}
		}
	}
	for name, where := range promised {
		switch {
		case !inlinable[name]:
			t.Errorf("%s (%s) is promised to inline, but the compiler cannot inline it", name, where)
		case !ast.IsExported(lastName(name)) && !inlined[name]:
			t.Errorf("%s (%s) is promised to inline, but no call of it is inlined", name, where)
		}
	}
}

// funcName returns fd's name as -gcflags=-m prints it: F, or (*T).M / T.M
// with the type parameters left out.
func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil {
		return fd.Name.Name
	}
	typ := fd.Recv.List[0].Type
	star := ""
	if s, ok := typ.(*ast.StarExpr); ok {
		star, typ = "*", s.X
	}
	switch x := typ.(type) {
	case *ast.IndexExpr:
		typ = x.X
	case *ast.IndexListExpr:
		typ = x.X
	}
	recv := typ.(*ast.Ident).Name
	if star != "" {
		return "(*" + recv + ")." + fd.Name.Name
	}
	return recv + "." + fd.Name.Name
}

// calleeName returns the name, as -gcflags=-m prints it, of the function
// that fd's comment names: T.M or F as written, or a method M of fd's own
// receiver type.
func calleeName(fd *ast.FuncDecl, name string) string {
	if typ, meth, ok := strings.Cut(name, "."); ok {
		return "(*" + typ + ")." + meth
	}
	if fd.Recv != nil {
		recv, _, _ := strings.Cut(funcName(fd), ").")
		if strings.HasPrefix(recv, "(*") {
			return recv + ")." + name
		}
		r, _, _ := strings.Cut(funcName(fd), ".")
		return r + "." + name
	}
	return name
}

// lastName returns the function or method name of a -gcflags=-m name.
func lastName(name string) string {
	if i := strings.LastIndex(name, "."); i >= 0 {
		return name[i+1:]
	}
	return name
}
