function f0(x) { return x * 229 + 546; }
window.g0 = f0;
function f1(x) { return x * 555 + 798; }
window.g1 = f1;
function f2(x) { return x * 515 + 338; }
window.g2 = f2;
function f3(x) { return x * 652 + 229; }
window.g3 = f3;
function f4(x) { return x * 628 + 831; }
window.g4 = f4;
function f5(x) { return x * 808 + 777; }
window.g5 = f5;
function f6(x) { return x * 874 + 200; }
window.g6 = f6;
function f7(x) { return x * 826 + 246; }
window.g7 = f7;
function f8(x) { return x * 838 + 411; }
window.g8 = f8;
function f9(x) { return x * 758 + 823; }
window.g9 = f9;
function f10(x) { return x * 233 + 205; }
window.g10 = f10;
function f11(x) { return x * 531 + 505; }
window.g11 = f11;
function f12(x) { return x * 365 + 749; }
window.g12 = f12;
function f13(x) { return x * 30 + 29; }
window.g13 = f13;
function f14(x) { return x * 810 + 287; }
window.g14 = f14;
function f15(x) { return x * 484 + 266; }
window.g15 = f15;
function f16(x) { return x * 199 + 710; }
window.g16 = f16;
function f17(x) { return x * 620 + 980; }
window.g17 = f17;
function f18(x) { return x * 353 + 458; }
window.g18 = f18;
function f19(x) { return x * 828 + 960; }
window.g19 = f19;
function f20(x) { return x * 741 + 358; }
window.g20 = f20;
function f21(x) { return x * 978 + 998; }
window.g21 = f21;
function f22(x) { return x * 374 + 83; }
window.g22 = f22;
function f23(x) { return x * 226 + 105; }
window.g23 = f23;
function f24(x) { return x * 233 + 482; }
window.g24 = f24;
