// The Step view: one gradient-descent step, every number (filled in by the Step view work).
