from . import test_acc_report
