#!/usr/bin/env python3
"""Prepares Envoy's v3 API protos for meshd's build.

  envoy_protos.py stage <npm node_modules dir> <out dir>
      Copies the deps/ of @grpc/grpc-js-xds (envoy-api, xds, googleapis, protoc-gen-validate) into
      <out dir>, dropping the `ignore_empty` validation option, which the bundled validate.proto
      does not define (protoc would reject the files that use it).
  envoy_protos.py closure <proto dir> <root.proto>...
      Prints, one per line, every .proto under <proto dir> that the roots import, directly or not.
      google/protobuf/* come from libprotobuf and are left out.
"""
import os
import re
import shutil
import sys

DEPS = ["envoy-api", "xds", "googleapis", "protoc-gen-validate"]
IMPORT = re.compile(r'^\s*import\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;', re.M)
IGNORE_EMPTY = re.compile(r"\s*ignore_empty:\s*true")


def stage(node_modules, out):
    deps = os.path.join(node_modules, "@grpc", "grpc-js-xds", "deps")
    if os.path.isdir(out):
        shutil.rmtree(out)
    for dep in DEPS:
        src_root = os.path.join(deps, dep)
        for dirpath, _, files in os.walk(src_root):
            for name in files:
                if not name.endswith(".proto"):
                    continue
                src = os.path.join(dirpath, name)
                dst = os.path.join(out, os.path.relpath(src, src_root))
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                with open(src) as f:
                    text = f.read()
                with open(dst, "w") as f:
                    f.write(IGNORE_EMPTY.sub("", text))


def closure(proto_dir, roots):
    seen, todo = set(), list(roots)
    while todo:
        path = todo.pop()
        if path in seen or path.startswith("google/protobuf/"):
            continue
        full = os.path.join(proto_dir, path)
        if not os.path.exists(full):
            sys.exit("envoy_protos: %s is imported but not found under %s" % (path, proto_dir))
        seen.add(path)
        with open(full) as f:
            todo.extend(IMPORT.findall(f.read()))
    for path in sorted(seen):
        print(path)


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "stage":
        stage(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 4 and sys.argv[1] == "closure":
        closure(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(__doc__)
