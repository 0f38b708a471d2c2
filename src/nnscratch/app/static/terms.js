// Short explanations of technical terms on hover, and the first-visit tour.
