"""pytest plugin (entry point pytest11): collects suites/*.yaml as test cases."""
