/* cfginterpose: exports its own api_b (-rdynamic), which ld.so binds libcfglib.so's call to instead of the
 * library's; finds the library through RUNPATH $ORIGIN. */
int api_a(int x);

int api_b(int x)
{
	return -x;
}

int main(int argc, char **argv)
{
	return api_a(argc) == 12345;
}
