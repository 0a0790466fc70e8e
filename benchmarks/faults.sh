#!/usr/bin/env bash
# Issue 21's cases against the CLI, each in its own home under /tmp/faults: seconds, exit
# status and the last stderr line. Inputs: the repo's small fixtures.
cd "$(dirname "$0")/.."
F=/tmp/faults; rm -rf $F/*; mkdir -p $F/www
python3 -c "import bz2;open('$F/www/kowiki.xml.bz2','wb').write(bz2.compress(open('tests/fixtures/kowiki-tiny.xml','rb').read()))"
K=".venv/bin/korflow"
ARGS="corpus --profile quick --set nsmc_files.train=$PWD/tests/fixtures/nsmc-train.txt --set nsmc_files.test=$PWD/tests/fixtures/nsmc-test.txt"
unset PREFECT_HOME MLFLOW_TRACKING_URI PREFECT_API_URL KORFLOW_DATA_MIRROR
export KORFLOW_PROGRESS=0
row() {  # name home cmd...
  local name=$1 home=$2; shift 2
  local t0=$(date +%s.%N)
  KORFLOW_HOME=$home "$@" > $home.out 2> $home.err; local rc=$?
  local t1=$(date +%s.%N)
  printf '| %s | %.1f | %s | %s |\n' "$name" "$(echo "$t1 - $t0" | bc)" $rc "$(grep -v '^\s*$' $home.err | tail -1 | cut -c1-220)"
}
# 2. a damaged cached shard
row "2. first run" $F/h2 $K $ARGS --wiki-source $F/www/kowiki.xml.bz2
shard=$(ls $F/h2/corpus/tokens/*/train-*.parquet | head -1); head -c 300 $shard > $shard.x && mv $shard.x $shard
row "2. shard truncated, same command" $F/h2 $K $ARGS --wiki-source $F/www/kowiki.xml.bz2
grep -o "cached output .* computing it again" $F/h2.err | head -1
# 3. a password in a URL (python's http.server on loopback)
(cd $F/www && python3 -m http.server 8765 --bind 127.0.0.1 > /dev/null 2>&1 & echo $! > $F/www.pid)
sleep 1
row "3. --wiki-source http://reader:Zq7-unique-Pw@127.0.0.1:8765/…" $F/h3 $K $ARGS --wiki-source http://reader:Zq7-unique-Pw@127.0.0.1:8765/kowiki.xml.bz2
echo "   files under the home holding the secret: $(grep -rl Zq7-unique-Pw $F/h3 | wc -l); in its output: $(grep -c Zq7-unique-Pw $F/h3.out $F/h3.err | paste -sd' ')"
kill $(cat $F/www.pid)
row "3b. the same, server refused (port 1)" $F/h3b $K $ARGS --wiki-source http://reader:Zq7-unique-Pw@127.0.0.1:1/kowiki.xml.bz2
# 4. an unreachable tracking server
row "4. MLFLOW_TRACKING_URI=http://127.0.0.1:1" $F/h4 env MLFLOW_TRACKING_URI=http://127.0.0.1:1 $K $ARGS --wiki-source $F/www/kowiki.xml.bz2
# 5. a read-only store
$K compare > /dev/null 2>&1; mkdir -p $F/h5; KORFLOW_HOME=$F/h5 $K compare > /dev/null 2>&1; chattr +i $F/h5/mlflow.db
row "5. mlflow.db immutable (chattr +i)" $F/h5 $K $ARGS --wiki-source $F/www/kowiki.xml.bz2
chattr -i $F/h5/mlflow.db
# 6. files to score that cannot be read
printf 'document\n\xbf\xb5\xc8\xad \xc1\xc1\xb4\xd9\n' > $F/cp949.csv; : > $F/empty.csv
row "6. predict --input cp949.csv" $F/h6 $K predict --input $F/cp949.csv --output $F/o.csv
row "6. predict --input empty.csv" $F/h6b $K predict --input $F/empty.csv --output $F/o.csv
# 7. three first runs together on one fresh home
t0=$(date +%s.%N)
for i in 1 2 3; do KORFLOW_HOME=$F/h7 $K $ARGS --wiki-source $F/www/kowiki.xml.bz2 > $F/h7-$i.out 2> $F/h7-$i.err & done; wait
t1=$(date +%s.%N)
printf '| 7. three first runs together | %.1f | %s | tracebacks: %s |\n' "$(echo "$t1 - $t0" | bc)" "$(for i in 1 2 3; do tail -1 $F/h7-$i.out | cut -c1-8; done | paste -sd,)" "$(cat $F/h7-*.err | grep -c Traceback)"
# 8. modes and the lock
umask 022; stat -c '| 8. a shard written with umask 022 | %a |' $(ls $F/h2/corpus/tokens/*/*.parquet | head -1); ls /tmp/korflow-cpu-*.lock
