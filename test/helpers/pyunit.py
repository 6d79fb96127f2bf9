"""Runs the Python unit tests of one directory for test/python-unit.test.ts, which turns each into a Jest test (so
they count in the `N passed, N failed` line and fail `npm test`).

  python3 pyunit.py list DIR          prints the ids of the tests `unittest discover -s DIR -t DIR` finds, as JSON
  python3 pyunit.py run DIR OUT.json  runs them and writes {id: {"outcome": "passed"|"failed"|"skipped",
                                      "message": "…"}} to OUT.json; the tests' own output goes to stderr

Discovery is exactly `python3 -m unittest discover -s DIR -t DIR -p 'test_*.py'`, so the tests also run on their own.
"""
import json
import sys
import unittest

PATTERN = 'test_*.py'


def discover(directory):
    return unittest.defaultTestLoader.discover(start_dir=directory, pattern=PATTERN, top_level_dir=directory)


def flatten(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from flatten(item)
        else:
            yield item


class Recorder(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.outcomes = {}

    def addSuccess(self, test):
        self.outcomes.setdefault(test.id(), {'outcome': 'passed', 'message': ''})

    def addFailure(self, test, err):
        self.outcomes[test.id()] = {'outcome': 'failed', 'message': self._exc_info_to_string(err, test)}

    def addError(self, test, err):
        # An error in setUpClass is reported against a suite-level pseudo test: charge it to every test of the class.
        self.outcomes[test.id()] = {'outcome': 'failed', 'message': self._exc_info_to_string(err, test)}

    def addSkip(self, test, reason):
        self.outcomes[test.id()] = {'outcome': 'skipped', 'message': reason}

    def addSubTest(self, test, subtest, err):
        if err is not None:
            self.outcomes[test.id()] = {'outcome': 'failed', 'message': '%s: %s' % (
                subtest.id(), self._exc_info_to_string(err, test))}

    def addExpectedFailure(self, test, err):
        self.outcomes[test.id()] = {'outcome': 'passed', 'message': 'expected failure'}

    def addUnexpectedSuccess(self, test):
        self.outcomes[test.id()] = {'outcome': 'failed', 'message': 'unexpected success'}


def main(argv):
    if len(argv) >= 2 and argv[0] == 'list':
        print(json.dumps([t.id() for t in flatten(discover(argv[1]))]))
        return 0
    if len(argv) >= 3 and argv[0] == 'run':
        sys.stdout = sys.stderr
        suite = discover(argv[1])
        ids = [t.id() for t in flatten(suite)]
        result = Recorder()
        suite.run(result)
        for test_id in ids:
            result.outcomes.setdefault(test_id, {'outcome': 'failed', 'message': 'did not run'})
        for test, err in result.errors:      # class/module fixtures that failed
            if test.id() not in result.outcomes:
                result.outcomes[test.id()] = {'outcome': 'failed', 'message': err}
        with open(argv[2], 'w') as f:
            json.dump(result.outcomes, f)
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
