#!/usr/bin/env bash
# ansible-test sanity on what the collection ships: build the tarball (which honours galaxy.yml's
# build_ignore), unpack it at .../ansible_collections/macroai/deploy, add the sanity ignore file, and run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=$root/.venv/bin
build=${SANITY_BUILD_DIR:-$root/.build}  # a private directory lets several runs go side by side
dest=$build/ansible_collections/macroai/deploy
rm -rf "$build/ansible_collections" "$build"/macroai-deploy-*.tar.gz
mkdir -p "$dest"
"$bin/ansible-galaxy" collection build --force --output-path "$build" . >/dev/null
tar -xzf "$build"/macroai-deploy-*.tar.gz -C "$dest"
# Dependencies are found beside the collection: link the pip bundle's amazon.aws there.
bundled=$("$bin/python" -c 'import ansible_collections.amazon.aws as m; print(list(m.__path__)[0])')
mkdir -p "$build/ansible_collections/amazon"
ln -sfn "$bundled" "$build/ansible_collections/amazon/aws"
mkdir -p "$dest/tests/sanity"
cp tests/sanity/ignore-*.txt "$dest/tests/sanity/"
# ansible-test bootstraps pip in its own virtualenvs from a script it downloads from a host this machine
# cannot reach; give it an offline stand-in, in a project-local HOME.
export HOME=$build/home
mkdir -p "$HOME/.ansible/test/cache"
cp tools/get_pip_offline.py "$HOME/.ansible/test/cache/get_pip_24_2.py"  # the pip ansible-core 2.19 asks for
cd "$dest"
# ansible-test decides what belongs to the collection from git.
git init -q . && git add -A >/dev/null
python_version=$("$bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
"$bin/ansible-test" sanity --local --python "$python_version" "$@"
