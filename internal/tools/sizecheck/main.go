// Command sizecheck fails when a Go file of the project grows past 800 lines or a function's
// body past 80, so that no file needs long scrolling and no function holds more than one idea.
// Test files, generated files ("Code generated ... DO NOT EDIT.") and the declarations named in
// the exemption file are not measured: tables (route maps, flag lists, metric declarations)
// are long by nature and read as data. Each exemption line is "path:Func  reason" or
// "path  reason"; an exemption that no longer matches anything is itself reported, so the list
// cannot rot.
//
//	go run ./internal/tools/sizecheck [-exempt .ci/size-exempt] [root]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

const (
	maxFileLines = 800
	maxFuncLines = 80
)

func main() {
	exempt := flag.String("exempt", ".ci/size-exempt", "file of exempt paths and functions, one per line with a reason")
	flag.Parse()
	root := "."
	if flag.NArg() > 0 {
		root = flag.Arg(0)
	}
	problems, err := check(root, *exempt)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sizecheck:", err)
		os.Exit(2)
	}
	for _, p := range problems {
		fmt.Println(p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
}

// check measures every Go file under root and returns one line per file or function over
// its limit, and per exemption that matched nothing, sorted.
func check(root, exemptFile string) ([]string, error) {
	exempt, err := readExempt(exemptFile)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	var out []string
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return fmt.Errorf("cannot parse %s: %w", rel, err)
		}
		if ast.IsGenerated(f) {
			return nil
		}
		if exempt[rel] {
			used[rel] = true
		} else if n := fset.File(f.Pos()).LineCount(); n > maxFileLines {
			out = append(out, fmt.Sprintf("%s: %d lines (limit %d): split it by what its parts do", rel, n, maxFileLines))
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			name := funcName(fd)
			n := fset.Position(fd.Body.Rbrace).Line - fset.Position(fd.Body.Lbrace).Line - 1
			if key := rel + ":" + name; exempt[key] {
				used[key] = true
				continue
			}
			if n > maxFuncLines {
				out = append(out, fmt.Sprintf("%s:%d: %s is %d lines (limit %d)", rel, fset.Position(fd.Pos()).Line, name, n, maxFuncLines))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for k := range exempt {
		if !used[k] {
			out = append(out, fmt.Sprintf("%s: %s names nothing that exists any more; remove the line", exemptFile, k))
		}
	}
	sort.Strings(out)
	return out, nil
}

// funcName is Func or Type.Method, the form exemption lines use.
func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	t := fd.Recv.List[0].Type
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
			continue
		case *ast.IndexExpr:
			t = x.X
			continue
		case *ast.IndexListExpr:
			t = x.X
			continue
		case *ast.Ident:
			return x.Name + "." + fd.Name.Name
		}
		return fd.Name.Name
	}
}

// readExempt reads "key  reason" lines; blank lines and # comments are skipped. A line without
// a reason is an error: an exemption must say why.
func readExempt(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseExempt(f, path)
}

func parseExempt(r io.Reader, name string) (map[string]bool, error) {
	out := map[string]bool{}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) < 2 {
			return nil, fmt.Errorf("%s:%d: %q has no reason; write why it is exempt after it", name, line, text)
		}
		out[fields[0]] = true
	}
	return out, sc.Err()
}
